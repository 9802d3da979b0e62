//! The workspace's end-to-end tests are this package's test targets (see `Cargo.toml`): the proxy
//! as a process against the mocks (`proxy_e2e`), real agents (`agents`), the repository's layout.
//! They build on the conformance kit's stack (`tests/kit`); there is nothing here to link.
