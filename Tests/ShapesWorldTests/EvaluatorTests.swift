import EmuIO
import XCTest
@testable import ShapesWorld

/// Degradations standing in for VQ reconstruction, from mild to the box 8x worst case.
enum Degradation: CaseIterable {
    case clean, blur1, blur1Noise8, box2Blur1Noise8, box4, box8

    var name: String { "\(self)" }

    func apply(_ image: RGBImage, seed: UInt64) -> RGBImage {
        switch self {
        case .clean: image
        case .blur1: ImageDegradation.gaussianBlur(image, sigma: 1)
        case .blur1Noise8: ImageDegradation.addNoise(ImageDegradation.gaussianBlur(image, sigma: 1), standardDeviation: 8, seed: seed)
        case .box2Blur1Noise8:
            ImageDegradation.addNoise(ImageDegradation.gaussianBlur(ImageDegradation.boxResample(image, factor: 2), sigma: 1),
                                      standardDeviation: 8, seed: seed)
        case .box4: ImageDegradation.boxResample(image, factor: 4)
        case .box8: ImageDegradation.boxResample(image, factor: 8)
        }
    }
}

struct ReaderAccuracy {
    var scenes = 0, exactScenes = 0, objects = 0
    var shape = 0, color = 0, size = 0, position = 0

    /// Matches read objects to true ones (same colour first, then nearest) and counts attributes.
    mutating func add(truth: [SceneObject], read: [SceneObject]) {
        scenes += 1
        if read.count == truth.count, SceneSpec(describing: Scene(objects: truth)).isSatisfied(by: read) { exactScenes += 1 }
        var available = read
        for object in truth {
            objects += 1
            guard let nearest = available.indices.min(by: {
                hypot(available[$0].x - object.x, available[$0].y - object.y) < hypot(available[$1].x - object.x, available[$1].y - object.y)
            }) else { continue }
            let found = available.remove(at: nearest)
            if found.shape == object.shape { shape += 1 }
            if found.color == object.color { color += 1 }
            if found.size == object.size { size += 1 }
            if hypot(found.x - object.x, found.y - object.y) <= 1.5 { position += 1 }
        }
    }

    func share(_ n: Int, of d: Int) -> Double { d == 0 ? 0 : Double(n) / Double(d) }
    var sceneAccuracy: Double { share(exactScenes, of: scenes) }
    var summary: String {
        String(format: "scenes %.3f shape %.3f colour %.3f size %.3f position<=1.5px %.3f",
               sceneAccuracy, share(shape, of: objects), share(color, of: objects), share(size, of: objects),
               share(position, of: objects))
    }
}

final class SceneReaderTests: XCTestCase {
    /// Measured on 400 held-out scenes (see the report): the thresholds sit a little under the
    /// measured accuracies.
    func testReadsScenesUnderDegradations() {
        let samples = TaskData.captionedImages(.heldOut, count: 400)
        let reader = SceneReader()
        var results: [Degradation: ReaderAccuracy] = [:]
        for degradation in Degradation.allCases {
            var accuracy = ReaderAccuracy()
            for (i, sample) in samples.enumerated() {
                let image = degradation.apply(sample.image, seed: UInt64(i))
                accuracy.add(truth: sample.scene.objects, read: reader.objects(in: image))
            }
            results[degradation] = accuracy
            print("SceneReader \(degradation.name): \(accuracy.summary)")
        }
        XCTAssertGreaterThanOrEqual(results[.clean]!.sceneAccuracy, 0.99)
        XCTAssertGreaterThanOrEqual(results[.blur1Noise8]!.sceneAccuracy, 0.95)
        XCTAssertGreaterThanOrEqual(results[.box2Blur1Noise8]!.sceneAccuracy, 0.90)
    }

    func testReadsVideoPositionsExactly() {
        let clips = TaskData.videoClips(.heldOut, count: 40)
        for clip in clips {
            let score = VideoEvaluator.score(predicted: clip.frames, truth: clip.states)
            XCTAssertEqual(score.missedCount, 0)
            XCTAssertLessThan(score.meanError, 1.0)
            XCTAssertEqual(score.shareWithinTolerance, 1.0)
        }
        // Predicting "nothing moves" must score worse than the truth.
        let clip = clips[0]
        let frozen = VideoEvaluator.score(predicted: Array(repeating: clip.frames[0], count: 8), truth: clip.states)
        XCTAssertGreaterThan(frozen.meanError, 3)
        XCTAssertLessThan(frozen.perFrameShareWithinTolerance.last!, 1)
    }
}

final class GenEvalScorerTests: XCTestCase {
    func testIdealImagesPassAndWrongImagesFail() {
        let scorer = GenEvalScorer()
        let prompts = TaskData.genEvalPrompts(.heldOut, perCategory: 40)
        var judgements: [GenEvalJudgement] = []
        for (i, prompt) in prompts.enumerated() {
            XCTAssertEqual(try CaptionGrammar.parse(prompt.prompt), prompt.spec)
            guard let scene = SceneGenerator.scene(satisfying: prompt.spec, seed: UInt64(i)) else {
                XCTFail("no scene for \(prompt.prompt)"); continue
            }
            let image = Degradation.blur1Noise8.apply(SceneRenderer.render(scene), seed: UInt64(i))
            judgements.append(scorer.judge(prompt, image: image))

            // Wrong pictures: a recoloured first object, an extra object, an empty canvas.
            var recoloured = scene
            let used = Set(scene.objects.map(\.color))
            recoloured.objects[0].color = ObjectColor.allCases.first { !used.contains($0) }!
            XCTAssertFalse(scorer.judge(prompt, image: SceneRenderer.render(recoloured)).correct, prompt.prompt)
            XCTAssertFalse(scorer.judge(prompt, image: RGBImage(width: 64, height: 64)).correct)
            if prompt.category == .position {
                var swapped = scene
                let first = swapped.objects[0]
                (swapped.objects[0].x, swapped.objects[0].y) = (swapped.objects[1].x, swapped.objects[1].y)
                (swapped.objects[1].x, swapped.objects[1].y) = (first.x, first.y)
                XCTAssertFalse(scorer.judge(prompt, image: SceneRenderer.render(swapped)).correct, "swapped \(prompt.prompt)")
            }
        }
        let report = GenEvalScorer.report(judgements)
        print("GenEval on ideal images (blur 1 + noise 8): \(report.accuracy) overall \(report.overall)")
        XCTAssertEqual(report.accuracy.count, GenEvalCategory.allCases.count)
        XCTAssertGreaterThanOrEqual(report.overall, 0.97)
    }
}
