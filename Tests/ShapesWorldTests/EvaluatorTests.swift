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
            XCTAssertEqual(scorer.judge(prompt, image: SceneRenderer.render(recoloured)).failure, .color, prompt.prompt)
            XCTAssertEqual(scorer.judge(prompt, image: RGBImage(width: 64, height: 64)).failure, .tooFewObjects)
            if prompt.category == .position {
                var swapped = scene
                let first = swapped.objects[0]
                (swapped.objects[0].x, swapped.objects[0].y) = (swapped.objects[1].x, swapped.objects[1].y)
                (swapped.objects[1].x, swapped.objects[1].y) = (first.x, first.y)
                XCTAssertEqual(scorer.judge(prompt, image: SceneRenderer.render(swapped)).failure, .position, "swapped \(prompt.prompt)")
            }
        }
        let report = GenEvalScorer.report(judgements)
        print("GenEval on ideal images (blur 1 + noise 8): \(report.accuracy) overall \(report.overall) failures \(report.failures)")
        XCTAssertEqual(report.accuracy.count, GenEvalCategory.allCases.count)
        XCTAssertGreaterThanOrEqual(report.overall, 0.97)
        // The failure tally accounts for every wrong prompt of its category.
        for (category, share) in report.accuracy {
            let failed = report.failures[category, default: [:]].values.reduce(0, +)
            XCTAssertEqual(failed, 40 - Int((share * 40).rounded()), category)
        }
    }

    /// Each kind of mistake is named by the first check it fails: count, shape, colour, size, position.
    func testFailureNamesTheFirstWrongAttribute() {
        // "a small red circle above a large blue square"
        let spec = SceneSpec(groups: [ObjectDescription(size: .small, color: .red, shape: .circle),
                                      ObjectDescription(size: .large, color: .blue, shape: .square)], relation: .above)
        let circle = SceneObject(shape: .circle, color: .red, size: .small, x: 32, y: 14)
        let square = SceneObject(shape: .square, color: .blue, size: .large, x: 30, y: 46)
        func failure(_ objects: [SceneObject]) -> GenEvalFailure? { GenEvalFailure(spec: spec, objects: objects) }
        func changed(_ object: SceneObject, _ change: (inout SceneObject) -> Void) -> SceneObject {
            var object = object; change(&object); return object
        }
        XCTAssertNil(failure([circle, square]))
        XCTAssertNil(failure([square, circle]), "order read does not matter")
        XCTAssertEqual(failure([circle]), .tooFewObjects)
        XCTAssertEqual(failure([]), .tooFewObjects)
        XCTAssertEqual(failure([circle, square, changed(circle) { $0.x = 50 }]), .tooManyObjects)
        XCTAssertEqual(failure([changed(circle) { $0.color = .green }, square]), .color)
        XCTAssertEqual(failure([changed(circle) { $0.color = .green; $0.shape = .triangle }, square]), .shape,
                       "shape is checked before colour")
        XCTAssertEqual(failure([changed(circle) { $0.shape = .diamond }, square]), .shape)
        XCTAssertEqual(failure([circle, changed(square) { $0.color = .red; $0.size = .small }]), .color,
                       "colour is checked before size")
        XCTAssertEqual(failure([circle, changed(square) { $0.size = .small }]), .size)
        XCTAssertEqual(failure([changed(circle) { $0.y = 60 }, square]), .position)
        XCTAssertEqual(failure([changed(circle) { $0.color = .blue; $0.size = .large }, changed(square) { $0.color = .red; $0.size = .small }]),
                       .color, "colours swapped between the objects")

        // Unstated attributes are never a failure: "a red circle" says no size.
        let colorSpec = SceneSpec(groups: [ObjectDescription(color: .red, shape: .circle)])
        XCTAssertNil(GenEvalFailure(spec: colorSpec, objects: [changed(circle) { $0.size = .large }]))
        XCTAssertEqual(GenEvalFailure(spec: colorSpec, objects: [changed(circle) { $0.shape = .cross }]), .shape)

        // Counting: "two small red circles" with a circle and a square is a shape failure.
        let twoCircles = SceneSpec(groups: [ObjectDescription(count: 2, size: .small, color: .red, shape: .circle)])
        XCTAssertNil(GenEvalFailure(spec: twoCircles, objects: [circle, changed(circle) { $0.x = 50 }]))
        XCTAssertEqual(GenEvalFailure(spec: twoCircles, objects: [circle, changed(circle) { $0.shape = .square }]), .shape)
        XCTAssertEqual(GenEvalFailure(spec: twoCircles, objects: [circle]), .tooFewObjects)
    }

    func testReportTalliesFailuresByCategory() {
        let single = GenEvalPrompt(category: .singleObject, seed: 1), colors = GenEvalPrompt(category: .colors, seed: 2)
        let judgements = [
            GenEvalJudgement(prompt: single, failure: nil, detected: []),
            GenEvalJudgement(prompt: single, failure: .tooManyObjects, detected: []),
            GenEvalJudgement(prompt: single, failure: .tooManyObjects, detected: []),
            GenEvalJudgement(prompt: single, failure: .shape, detected: []),
            GenEvalJudgement(prompt: colors, failure: .color, detected: []),
        ]
        let report = GenEvalScorer.report(judgements)
        XCTAssertEqual(report.accuracy, ["single_object": 0.25, "colors": 0])
        XCTAssertEqual(report.failures, ["single_object": ["too_many_objects": 2, "shape": 1], "colors": ["color": 1]])
        XCTAssertEqual(report.overall, 0.125, accuracy: 1e-12)
    }
}
