"""Rule packs (one TOML file per region) and the pure fee engine; see docs/rules.md."""
