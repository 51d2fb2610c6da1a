import Foundation
import XCTest
import EmuTensor
import Emu3
@testable import EmuTraining

/// A toy multimodal world for the tiny Emu3 transformer: four colour words, each with a fixed 2x2
/// grid of visual tokens. Text-to-image (`BOS colour BOI IMG grid EOF EOI EOS`) and captioning
/// (`BOS BOI IMG grid EOF EOI colour EOS`) are both deterministic once the first choice is made,
/// so a working forward/backward/optimizer loop drives the loss to near zero.
final class TransformerLearningTests: XCTestCase {
    struct Specials { let bos, eos, boi, img, eol, eof, eoi: Int }

    static func specials() throws -> (Specials, [Int]) {
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: TinyEmu3.folder.appendingPathComponent("config.json"))) as! [String: Any]
        let map = config["vocabulary_map"] as! [String: Int]
        let visual = map.filter { $0.key.hasPrefix("<|visual token") }.map(\.value).sorted()
        return (Specials(bos: map["<|extra_203|>"]!, eos: map["<|extra_204|>"]!, boi: map["<|image start|>"]!,
                         img: map["<|image token|>"]!, eol: map["<|extra_200|>"]!, eof: map["<|extra_201|>"]!,
                         eoi: map["<|image end|>"]!), visual)
    }

    static func examples() throws -> [TrainingExample] {
        let (s, visual) = try specials()
        let colourWords = [300, 301, 302, 303]  // four ordinary text tokens standing for colour words
        var out: [TrainingExample] = []
        for (c, word) in colourWords.enumerated() {
            let grid = [visual[c], visual[c + 4], s.eol, visual[c + 8], visual[c + 12], s.eol]
            // Position 1 (which colour / which direction) is a free choice: not supervised.
            let generate = [s.bos, word, s.boi, s.img] + grid + [s.eof, s.eoi, s.eos]
            out.append(TrainingExample(ids: generate, weights: [0, 0] + Array(repeating: 1, count: generate.count - 2)))
            let caption = [s.bos, s.boi, s.img] + grid + [s.eof, s.eoi, word, s.eos]
            // In captioning the first visual token is the free choice.
            out.append(TrainingExample(ids: caption, weights: [0, 0, 1, 0] + Array(repeating: 1, count: caption.count - 4)))
        }
        return out
    }

    func testTinyTransformerLearnsColourGrids() throws {
        let configuration = try TinyEmu3.configuration()
        let model = TrainableTransformer(configuration: configuration, seed: 7)
        let (specials, visual) = try Self.specials()
        let rows = try SequencePacker(length: 12, paddingID: 0).pack(Self.examples())
        let config = TrainingConfiguration(steps: 80, batchSize: 8, sequenceLength: 12,
                                           optimizer: .init(learningRate: 1e-2, weightDecay: 0), seed: 1)
        let trainer = NextTokenTrainer(model: model, rows: rows, configuration: config, paddingID: 0)
        let started = Date()
        let first = trainer.trainStep().loss
        var last = first
        while trainer.step < config.steps { last = trainer.trainStep().loss }
        print("toy task: loss \(first) -> \(last) in \(config.steps) steps, \(Date().timeIntervalSince(started)) s")
        XCTAssertGreaterThan(first, 5)  // about log(1664) at initialization
        XCTAssertLessThan(last, 0.05)

        // The trained weights drive the inference Transformer (KV cache path) to the right grid.
        let transformer = try model.transformer()
        var ids = [specials.bos, 302, specials.boi, specials.img]
        let cache = transformer.makeCache(capacity: 32)
        var logits = try transformer.forward(ids, cache: cache)
        for _ in 0..<6 {
            let next = logits.toArray().enumerated().max { $0.element < $1.element }!.offset
            ids.append(next)
            logits = try transformer.forward([next], cache: cache)
        }
        XCTAssertEqual(Array(ids.suffix(6)), [visual[2], visual[6], specials.eol, visual[10], visual[14], specials.eol])
    }
}
