import Foundation

// How radrelayctl prints its human (non-`--json`) answers: left-aligned tables, and the cell
// formats the tables share (sizes, ages, times).

/// Renders rows as a left-aligned table with a header, columns two spaces apart and trailing
/// blanks trimmed. With no rows and an `ifEmpty` message (such as `(no deliveries)`), prints the
/// header and then that message.
func printTable(_ header: [String], _ rows: [[String]], ifEmpty emptyMessage: String? = nil) {
    let all = [header] + rows
    let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
    for row in all {
        let line = row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }
            .joined(separator: "  ")
        print(line.trimmingCharacters(in: .whitespaces))
    }
    if rows.isEmpty, let emptyMessage { print(emptyMessage) }
}

/// A byte count in binary units with one decimal (`512 B`, `1.5 MiB`).
func formatBytes(_ bytes: Int64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var value = Double(bytes)
    var unit = 0
    while value >= 1024 && unit < units.count - 1 {
        value /= 1024
        unit += 1
    }
    return unit == 0 ? "\(bytes) B" : String(format: "%.1f %@", value, units[unit])
}

/// An age in the largest whole unit that keeps two digits of detail (`90s`, `45m`, `30h`, `3d`);
/// `-` when unknown.
func formatAge(_ seconds: Double?) -> String {
    guard let seconds else { return "-" }
    let s = Int(seconds)
    if s < 120 { return "\(s)s" }
    if s < 7200 { return "\(s / 60)m" }
    if s < 172_800 { return "\(s / 3600)h" }
    return "\(s / 86400)d"
}

/// A point in time (seconds since 1970) in the local time zone, `yyyy-MM-dd HH:mm:ss`.
func formatTime(_ epoch: Double) -> String {
    let formatter = DateFormatter()
    formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
    return formatter.string(from: Date(timeIntervalSince1970: epoch))
}
