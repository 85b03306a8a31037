import CSystemd

/// The sd_notify(3) protocol: tells systemd (Type=notify) when the daemon is ready, reloading
/// or stopping. Without `NOTIFY_SOCKET` in the environment every call is a no-op, so the daemon
/// behaves the same in a terminal and under systemd.
public enum SystemdNotifier {
    /// Sends one or more `KEY=VALUE` lines, e.g. `"READY=1\nSTATUS=listening on :11112"`.
    public static func notify(_ state: String) {
        _ = sd_notify(0, state)
    }

    /// READY=1 with a STATUS line: sent only once recovery is done and the listener accepts.
    public static func ready(status: String) { notify("READY=1\nSTATUS=\(status)") }

    /// STOPPING=1: graceful shutdown has begun.
    public static func stopping() { notify("STOPPING=1\nSTATUS=draining") }

    /// A new STATUS line (shown by `systemctl status`).
    public static func status(_ text: String) { notify("STATUS=\(text)") }
}
