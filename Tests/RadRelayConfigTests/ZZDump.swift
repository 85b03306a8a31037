import XCTest
@testable import RadRelayConfig
final class ZZDump: XCTestCase {
    func testDump() {
        let cases = [
            "gateway:\n  ae_title: RADRELAY\n   port: 104\n",
            "gateway:\n  ae_title: GW\n  additional_ae_titles: [A, B\n",
            "gateway:\n  ae_title: RADRELAY\n  port:\n",
            "gateway:\n  ae_title: RADRELAY\n  max_asociations: 4\n",
            minimalYAML + "\nmetrics: {}\n",
            "gateway:\n  ae_tittle: X\n",
            "gateway:\n  ae_title: X\ndestinations:\n  - name: a\n    ae_title: A\n    host: h\n    port: 1\n    retry: { base_delay: 10s, max_delay: 2s }\n",
            "a: 1\n---\nb: 2\n",
            "gateway:\n  ae_title: \"X\\tY\"\n",
            "gateway: &g\n  ae_title: X\ndestinations: *g\n",
            "gateway:\n  ae_title: X\n  bind: 10.0.0.256\n",
        ]
        for yaml in cases {
            do throws(ConfigurationError) { _ = try load(yaml); print("DUMP ok") } catch { print("DUMP \(error)") }
        }
    }
}
