import FuzzDriver
import TsubameServer

/// Any text as a configuration file: it parses or reports problems, never traps; a
/// configuration that parses renders to text that parses to the same configuration.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data else { return 0 }
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    if let configuration = try? ConfigurationLoader.parse(text, file: "fuzz.toml") {
        let again = try? ConfigurationLoader.parse(ConfigurationRenderer.render(configuration), file: "render.toml")
        guard again == configuration else { fatalError("render round trip failed") }
    }
    return 0
}

runFuzzer { data, size in fuzz(data, size) }
