"""Peewee models over the schema that client/core/migrations.py builds.

Models never create tables: the migrations own the schema.
"""

from __future__ import annotations

import peewee

database_proxy = peewee.DatabaseProxy()


class BaseModel(peewee.Model):
    class Meta:
        database = database_proxy
        legacy_table_names = False


class Unit(BaseModel):
    taxpayer_id = peewee.TextField()
    taxside_unit_id = peewee.TextField(unique=True)
    name = peewee.TextField()
    region = peewee.TextField()
    added_at = peewee.TextField()


class AuditLog(BaseModel):
    at = peewee.TextField()
    operator = peewee.TextField()
    action = peewee.TextField()
    detail = peewee.TextField(default="")
    unit = peewee.ForeignKeyField(Unit, null=True, on_delete="SET NULL", column_name="unit_id")
