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
    registration = peewee.TextField(default="")
    registration_at = peewee.TextField(null=True)
    last_login_at = peewee.TextField(null=True)
    offline_hash = peewee.TextField(null=True)
    removed_at = peewee.TextField(null=True)


class AuditLog(BaseModel):
    at = peewee.TextField()
    operator = peewee.TextField()
    action = peewee.TextField()
    detail = peewee.TextField(default="")
    unit = peewee.ForeignKeyField(Unit, null=True, on_delete="SET NULL", column_name="unit_id")


class RulePackCache(BaseModel):
    region = peewee.TextField(primary_key=True)
    version = peewee.TextField()
    sha256 = peewee.TextField()
    content = peewee.TextField()
    fetched_at = peewee.TextField()


class Notice(BaseModel):
    notice_id = peewee.TextField(primary_key=True)
    region = peewee.TextField(null=True)
    title = peewee.TextField()
    body = peewee.TextField()
    published_on = peewee.TextField()
    valid_until = peewee.TextField()
    importance = peewee.TextField()
    popup = peewee.BooleanField(default=False)
    fetched_at = peewee.TextField()
    read_at = peewee.TextField(null=True)


class LocalCredential(BaseModel):
    name = peewee.TextField(primary_key=True)
    hash = peewee.TextField()
    updated_at = peewee.TextField()


class RefreshState(BaseModel):
    feed = peewee.TextField()
    scope = peewee.TextField()
    ok_at = peewee.TextField(null=True)
    error = peewee.TextField(null=True)
    error_at = peewee.TextField(null=True)

    class Meta:
        primary_key = peewee.CompositeKey("feed", "scope")
