"""The console's security: password hashing, accounts, sessions, login throttling, CSRF
and response headers. Wired by :class:`console.security.platform.ConsolePlatform`."""
