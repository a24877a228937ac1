"""werk's security at rest: local users, grants, API tokens and sessions (store), their secrets (secrets), the
hash-chained audit trail (audit), refusal limits per client (limits), and the command line that manages them
(cli). The decisions are pure (werk.core.access); the HTTP side is werk.api.auth and werk.api.security. See
docs/security.md."""
