//! A TCP proxy that can be cut: services under test connect through it, and a test
//! turns it off to make the backend behind it vanish (every open connection closed,
//! new ones refused, as when the server is stopped) and on again on the same port.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::net::{TcpSocket, TcpStream};
use tokio::task::JoinHandle;

/// A running proxy to `target`.
pub struct Proxy {
    pub port: u16,
    target: SocketAddr,
    /// The accept loop and every connection's copy task, while the proxy is on.
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

fn listen(port: u16) -> tokio::net::TcpListener {
    let socket = TcpSocket::new_v4().unwrap();
    // The port is taken again after a cut while old connections sit in TIME_WAIT.
    socket.set_reuseaddr(true).unwrap();
    socket.bind(SocketAddr::from(([127, 0, 0, 1], port))).unwrap();
    socket.listen(1024).unwrap()
}

impl Proxy {
    /// Start on a free loopback port, forwarding to `target`.
    pub fn start(target: SocketAddr) -> Proxy {
        let port = super::services::free_port();
        let p = Proxy { port, target, tasks: Default::default() };
        p.on();
        p
    }

    /// Accept and forward connections (again).
    pub fn on(&self) {
        let listener = listen(self.port);
        let (target, tasks) = (self.target, self.tasks.clone());
        let accept = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let copy = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(target).await {
                        let mut inbound = inbound;
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                tasks.lock().unwrap().push(copy);
            }
        });
        self.tasks.lock().unwrap().push(accept);
    }

    /// Close every connection and stop listening: connections are refused until `on`.
    pub fn off(&self) {
        for t in self.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.off();
    }
}
