import CSystemd

#if canImport(Glibc)
import Glibc
#endif

/// The sd_notify(3) protocol: tells systemd (Type=notify) when the daemon is ready, reloading
/// or stopping, feeds the watchdog and publishes a one-line STATUS. Without `NOTIFY_SOCKET` in
/// the environment every call is a no-op, so the daemon behaves the same in a terminal and under
/// systemd (FIELD-NOTES: `sd_notify` returns 0 then).
public enum SystemdNotifier {
    /// Sends one or more `KEY=VALUE` lines, e.g. `"READY=1\nSTATUS=listening on :11112"`.
    public static func notify(_ state: String) {
        _ = sd_notify(0, state)
    }

    /// READY=1 with a STATUS line: sent only once recovery is done and the listener accepts,
    /// and again after each reload (systemd 252 has no notify-reload, FIELD-NOTES).
    public static func ready(status: String) { notify("READY=1\nSTATUS=\(oneLine(status))") }

    /// RELOADING=1 before a reload. `MONOTONIC_USEC` is what later systemd versions require with
    /// it; 252 ignores it.
    public static func reloading() {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let usec = UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1000
        notify("RELOADING=1\nMONOTONIC_USEC=\(usec)\nSTATUS=reloading configuration")
    }

    /// STOPPING=1: graceful shutdown has begun.
    public static func stopping() { notify("STOPPING=1\nSTATUS=draining") }

    /// A new STATUS line (shown by `systemctl status`).
    public static func status(_ text: String) { notify("STATUS=\(oneLine(text))") }

    /// WATCHDOG=1: the daemon is alive. Send only when every loop has shown progress.
    public static func watchdog() { notify("WATCHDOG=1") }

    /// The watchdog interval systemd expects keep-alives within (`WatchdogSec=`), or nil when the
    /// watchdog is off. `sd_watchdog_enabled` honours `WATCHDOG_PID`: a wrapper that does not
    /// `exec` the daemon turns the watchdog off (FIELD-NOTES).
    public static func watchdogInterval() -> Duration? {
        var usec: UInt64 = 0
        guard sd_watchdog_enabled(0, &usec) > 0, usec > 0 else { return nil }
        return .microseconds(Int64(clamping: usec))
    }

    /// STATUS must be one line: a newline would start a new assignment.
    static func oneLine(_ text: String) -> String {
        String(text.map { $0 == "\n" || $0 == "\r" ? " " : $0 })
    }
}
