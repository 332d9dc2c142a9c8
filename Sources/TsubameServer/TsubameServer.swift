// TsubameServer — the typed configuration, its loading and validation, and the wiring
// of listeners, directory and authenticator into one ServiceGroup. The only module
// that knows which concrete backends are in use.
//
// Standards: TOML v1.0.0 (the configuration file).
// Security: the configuration file is trusted but checked: every key is validated and
// unknown keys are errors, so a typo never silently leaves a default (e.g. plaintext
// auth) in force.
// Limits: see `Configuration` — every default is documented in docs/configuration.md.
