//! Hostile repository URLs: every spelling of an internal address is refused before git
//! runs (a listener on this machine sees no connection), and an allowed host is fetched
//! from the very address that was checked, its failures told in planmap's words.

/// Each spelling of a loopback address, with the port of a listener on this machine:
/// refused before git runs, so the listener never sees a connection.
#[test]
fn internal_addresses_in_any_spelling_are_refused_without_a_connection() {
    use planmap::repo::source::{acquire, RepoError, RepoPolicy, RepoSpec};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let strict = RepoPolicy { allow_local: false, allowed_hosts: vec![] };
    let clones = tempfile::tempdir().unwrap();
    for host in ["2130706433", "0x7f.1", "127.1", "0177.0.0.1", "0", "[::1]", "[::ffff:127.0.0.1]", "localhost", "localhost.", "[::]", "[fd00::1]", "[fe80::1]", "[::ffff:7f00:1]"] {
        for url in [format!("https://{host}:{port}/a/b.git"), format!("ssh://git@{host}:{port}/a/b.git"), format!("ssh://{host}:{port}/a/b.git"), format!("git@{host}:a/b.git")] {
            let spec = RepoSpec { url: url.clone(), ..Default::default() };
            let err = acquire(&spec, &strict, clones.path()).err().unwrap_or_else(|| panic!("{url} was fetched"));
            assert!(matches!(err, RepoError::HostNotAllowed { .. }), "{url}: {err}");
        }
    }
    assert!(matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock), "a connection reached the listener");
}

/// An allowed host is fetched from the address that was checked: git reaches the
/// listener there, and its failure comes back in planmap's words, not git's.
#[test]
fn an_allowed_host_is_fetched_from_the_checked_address_and_failures_are_not_gits_words() {
    use planmap::repo::source::{acquire, RepoError, RepoPolicy, RepoSpec};
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    // Answer every connection by closing it (not TLS): git fails at once.
    std::thread::spawn(move || {
        for s in listener.incoming().flatten() {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(s);
        }
    });
    let policy = RepoPolicy { allow_local: false, allowed_hosts: vec!["127.0.0.1".into()] };
    let clones = tempfile::tempdir().unwrap();
    let spec = RepoSpec { url: format!("https://127.0.0.1:{port}/a/b.git"), ..Default::default() };
    let err = acquire(&spec, &policy, clones.path()).err().expect("nothing to fetch there");
    assert!(matches!(err, RepoError::Unreachable { .. }), "{err}");
    let text = err.to_string();
    assert!(!text.contains("SSL") && !text.contains("reset") && !text.contains("Connection"), "{text}");
    assert!(seen.load(Ordering::SeqCst) >= 1, "git connected to the checked address");
}
