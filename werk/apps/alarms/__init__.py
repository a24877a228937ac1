"""Alarm management (ISA-18.2 / IEC 62682): definitions, the state model, the journal, KPIs (EEMUA 191)."""
