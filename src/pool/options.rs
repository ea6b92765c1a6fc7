//! Pool options (CMAP "Connection Pool Options") with a validating builder.

use std::time::Duration;

use crate::conn::{ConnectionOptions, DriverInfo};
use crate::error::{Error, Result};

/// The default `maxPoolSize`.
pub const DEFAULT_MAX_POOL_SIZE: u32 = 100;
/// The default `maxConnecting`.
pub const DEFAULT_MAX_CONNECTING: u32 = 2;
/// The default pause between background runs.
pub const DEFAULT_MAINTENANCE_INTERVAL: Duration = Duration::from_secs(1);

/// Options of one pool. All pools of a client share the same options (CMAP prose
/// tests 1 and 2).
///
/// The pool-level options remember whether the user set them, so the `PoolCreated` event and
/// log message report only those (CMAP "PoolCreatedEvent.options").
///
/// ```
/// use std::time::Duration;
/// use mongopool::PoolOptions;
/// let opts = PoolOptions::builder()
///     .max_pool_size(20)
///     .min_pool_size(2)
///     .wait_queue_timeout(Duration::from_millis(500))
///     .app_name("billing")
///     .build()
///     .unwrap();
/// assert_eq!(opts.max_connecting(), 2);
/// assert!(PoolOptions::builder().max_connecting(0).build().is_err());
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PoolOptions {
    max_pool_size: Option<u32>,
    min_pool_size: Option<u32>,
    max_idle_time: Option<Duration>,
    max_connecting: Option<u32>,
    wait_queue_timeout: Option<Duration>,
    maintenance_interval: Option<Option<Duration>>,
    connection: ConnectionOptions,
}

impl PoolOptions {
    /// A builder starting from the defaults.
    pub fn builder() -> PoolOptionsBuilder {
        PoolOptionsBuilder::default()
    }

    /// `maxPoolSize`: the cap on total connections; 0 means unlimited. Default 100.
    pub fn max_pool_size(&self) -> u32 {
        self.max_pool_size.unwrap_or(DEFAULT_MAX_POOL_SIZE)
    }

    /// `minPoolSize`: connections the background thread keeps open while the pool is ready.
    pub fn min_pool_size(&self) -> u32 {
        self.min_pool_size.unwrap_or(0)
    }

    /// `maxIdleTimeMS`: how long a connection may sit available before it is closed.
    pub fn max_idle_time(&self) -> Option<Duration> {
        self.max_idle_time
    }

    /// `maxConnecting`: connections that may be established at once. Default 2.
    pub fn max_connecting(&self) -> u32 {
        self.max_connecting.unwrap_or(DEFAULT_MAX_CONNECTING)
    }

    /// `waitQueueTimeoutMS`: how long a check-out may wait; `None` means no limit.
    pub fn wait_queue_timeout(&self) -> Option<Duration> {
        self.wait_queue_timeout
    }

    /// The pause between background runs; `None` means the background thread never runs.
    pub fn maintenance_interval(&self) -> Option<Duration> {
        self.maintenance_interval.unwrap_or(Some(DEFAULT_MAINTENANCE_INTERVAL))
    }

    /// The options each connection is opened with.
    pub fn connection(&self) -> &ConnectionOptions {
        &self.connection
    }

    /// The connection options, for a [`crate::Client`] that sets `loadBalanced` on options
    /// built elsewhere.
    pub(crate) fn connection_mut(&mut self) -> &mut ConnectionOptions {
        &mut self.connection
    }

    /// The pool options the user set explicitly, as (CMAP name, value) pairs, for the
    /// `PoolCreated` event and log message.
    pub fn user_specified(&self) -> Vec<(&'static str, u64)> {
        let ms = |d: Duration| d.as_millis().min(u64::MAX as u128) as u64;
        let mut out = Vec::new();
        if let Some(v) = self.max_idle_time {
            out.push(("maxIdleTimeMS", ms(v)));
        }
        if let Some(v) = self.min_pool_size {
            out.push(("minPoolSize", v as u64));
        }
        if let Some(v) = self.max_pool_size {
            out.push(("maxPoolSize", v as u64));
        }
        if let Some(v) = self.max_connecting {
            out.push(("maxConnecting", v as u64));
        }
        if let Some(v) = self.wait_queue_timeout {
            out.push(("waitQueueTimeoutMS", ms(v)));
        }
        out
    }

    pub(crate) fn validate(&self) -> Result<()> {
        let max = self.max_pool_size();
        if max > 0 && self.min_pool_size() > max {
            return Err(Error::invalid_argument(format!(
                "minPoolSize ({}) must not exceed maxPoolSize ({max})",
                self.min_pool_size()
            )));
        }
        if self.max_connecting() == 0 {
            return Err(Error::invalid_argument("maxConnecting must be greater than 0"));
        }
        if self.maintenance_interval == Some(Some(Duration::ZERO)) {
            return Err(Error::invalid_argument(
                "the background interval must be positive (None disables the background thread)",
            ));
        }
        self.connection.validate()
    }
}

/// Builds [`PoolOptions`]. Durations of zero mean "no limit", as in the URI options.
#[derive(Clone, Debug, Default)]
pub struct PoolOptionsBuilder {
    options: PoolOptions,
}

impl PoolOptionsBuilder {
    /// `maxPoolSize` (0 = unlimited).
    pub fn max_pool_size(mut self, n: u32) -> Self {
        self.options.max_pool_size = Some(n);
        self
    }

    /// `minPoolSize`.
    pub fn min_pool_size(mut self, n: u32) -> Self {
        self.options.min_pool_size = Some(n);
        self
    }

    /// `maxIdleTimeMS` (zero = no limit).
    pub fn max_idle_time(mut self, d: Duration) -> Self {
        self.options.max_idle_time = Some(d).filter(|d| !d.is_zero());
        self
    }

    /// `maxConnecting` (must be > 0).
    pub fn max_connecting(mut self, n: u32) -> Self {
        self.options.max_connecting = Some(n);
        self
    }

    /// `waitQueueTimeoutMS` (zero = no limit).
    pub fn wait_queue_timeout(mut self, d: Duration) -> Self {
        self.options.wait_queue_timeout = Some(d).filter(|d| !d.is_zero());
        self
    }

    /// The pause between background runs; `None` disables the background thread's runs
    /// (the spec tests' negative `backgroundThreadIntervalMS`).
    pub fn maintenance_interval(mut self, d: Option<Duration>) -> Self {
        self.options.maintenance_interval = Some(d);
        self
    }

    /// `appName`, sent in every connection's handshake.
    pub fn app_name(mut self, name: impl Into<String>) -> Self {
        self.options.connection.app_name = Some(name.into());
        self
    }

    /// `loadBalanced`: connections handshake with `loadBalanced: true`, must reach a service
    /// (a `serviceId` in the hello reply), and the pool keeps one generation per service
    /// (cmap.md "Load Balancer Mode"; see [`crate::Pool::clear_service`]).
    pub fn load_balanced(mut self, load_balanced: bool) -> Self {
        self.options.connection.load_balanced = load_balanced;
        self
    }

    /// `connectTimeoutMS` (zero = no limit).
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.options.connection.connect_timeout = Some(d).filter(|d| !d.is_zero());
        self
    }

    /// `socketTimeoutMS` (zero = no limit).
    pub fn socket_timeout(mut self, d: Duration) -> Self {
        self.options.connection.socket_timeout = Some(d).filter(|d| !d.is_zero());
        self
    }

    /// Metadata of a library wrapping mongopool.
    pub fn driver_info(mut self, info: DriverInfo) -> Self {
        self.options.connection.driver_info = Some(info);
        self
    }

    /// Replaces all connection options at once.
    pub fn connection_options(mut self, options: ConnectionOptions) -> Self {
        self.options.connection = options;
        self
    }

    /// Validates and returns the options.
    pub fn build(self) -> Result<PoolOptions> {
        self.options.validate()?;
        Ok(self.options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let o = PoolOptions::builder().build().unwrap();
        assert_eq!(o.max_pool_size(), 100);
        assert_eq!(o.min_pool_size(), 0);
        assert_eq!(o.max_connecting(), 2);
        assert_eq!(o.max_idle_time(), None);
        assert_eq!(o.wait_queue_timeout(), None);
        assert!(o.user_specified().is_empty());
    }

    #[test]
    fn validation_errors_name_the_option() {
        let e = PoolOptions::builder()
            .max_pool_size(2)
            .min_pool_size(3)
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("minPoolSize"), "{e}");
        assert!(PoolOptions::builder().max_pool_size(0).min_pool_size(3).build().is_ok());
        let e = PoolOptions::builder().app_name("x".repeat(129)).build().unwrap_err();
        assert!(e.to_string().contains("appName"), "{e}");
        assert!(PoolOptions::builder()
            .maintenance_interval(Some(Duration::ZERO))
            .build()
            .is_err());
    }

    #[test]
    fn user_specified_lists_only_what_was_set() {
        let o = PoolOptions::builder()
            .max_pool_size(50)
            .min_pool_size(5)
            .max_idle_time(Duration::from_millis(100))
            .build()
            .unwrap();
        assert_eq!(
            o.user_specified(),
            vec![("maxIdleTimeMS", 100), ("minPoolSize", 5), ("maxPoolSize", 50)]
        );
    }
}
