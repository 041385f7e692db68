//! A shutdown signal any number of tasks can wait on.
use tokio::sync::watch;

/// Fires once; clones observe the same signal.
#[derive(Debug, Clone)]
pub struct Shutdown {
    sender: std::sync::Arc<watch::Sender<bool>>,
    receiver: watch::Receiver<bool>,
}

impl Default for Shutdown {
    fn default() -> Self {
        let (sender, receiver) = watch::channel(false);
        Self { sender: std::sync::Arc::new(sender), receiver }
    }
}

impl Shutdown {
    /// Fires the signal.
    pub fn trigger(&self) {
        let _ = self.sender.send(true);
    }

    /// Resolves once the signal fired.
    pub async fn wait(&self) {
        let mut receiver = self.receiver.clone();
        let _ = receiver.wait_for(|fired| *fired).await;
    }
}
