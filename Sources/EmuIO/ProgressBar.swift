import Foundation

/// A one-line progress bar with rate and ETA on stderr when stderr is a terminal; silent when
/// piped (scripts read `--json` output instead). Not thread-safe: update from one thread.
public final class ProgressBar {
    public let total: Int
    public let label: String
    public let unit: String
    private let start = Date()
    private var lastDraw = Date.distantPast
    private let enabled: Bool
    public private(set) var completed = 0

    public init(total: Int, label: String, unit: String = "it", enabled: Bool? = nil) {
        self.total = max(total, 0)
        self.label = label
        self.unit = unit
        self.enabled = enabled ?? (isatty(FileHandle.standardError.fileDescriptor) != 0)
    }

    /// Advances by `count` and redraws at most ten times a second; `detail` (e.g. "loss 2.31")
    /// is shown after the rate.
    public func advance(by count: Int = 1, detail: String = "") {
        completed += count
        guard enabled else { return }
        let now = Date()
        if now.timeIntervalSince(lastDraw) < 0.1 && completed < total { return }
        lastDraw = now
        FileHandle.standardError.write(Data(("\r" + line(now: now, detail: detail) + "\u{1B}[K").utf8))
    }

    /// Ends the line (call once when done or interrupted).
    public func finish(detail: String = "") {
        guard enabled else { return }
        FileHandle.standardError.write(Data(("\r" + line(now: Date(), detail: detail) + "\u{1B}[K\n").utf8))
    }

    /// The text of the bar: label, bar, count, rate, ETA.
    public func line(now: Date, detail: String) -> String {
        let elapsed = max(now.timeIntervalSince(start), 1e-9)
        let rate = Double(completed) / elapsed
        let fraction = total > 0 ? min(Double(completed) / Double(total), 1) : 0
        let width = 24
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        let remaining = rate > 0 ? Double(total - completed) / rate : .infinity
        var text = "\(label) \(bar) \(completed)/\(total) \(String(format: "%.1f", rate)) \(unit)/s ETA \(ProgressBar.clock(remaining))"
        if !detail.isEmpty { text += "  " + detail }
        return text
    }

    /// h:mm:ss or m:ss.
    public static func clock(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "--:--" }
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}
