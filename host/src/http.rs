//! HTTP clients (the model endpoint, Chroma, the CLI) all run on rustls with ring,
//! which sqlx already brings; ring is made the process's crypto provider before the
//! first client is built, so no second crypto library is compiled in.

/// A reqwest client builder with the crypto provider in place.
pub fn builder() -> reqwest::ClientBuilder {
    install_provider();
    reqwest::Client::builder()
}

/// Make ring rustls' process-wide provider. Idempotent; a provider someone installed
/// earlier stays.
pub fn install_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
