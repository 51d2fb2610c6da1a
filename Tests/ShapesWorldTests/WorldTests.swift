import EmuIO
import EmuTokenizers
import XCTest
@testable import ShapesWorld

final class SeededRandomTests: XCTestCase {
    func testSplitMix64MatchesPublishedSequence() {
        // Reference outputs of SplitMix64 seeded with 1234567 (Vigna's splitmix64.c).
        var rng = SeededRandom(seed: 1_234_567)
        XCTAssertEqual((0..<5).map { _ in rng.next() },
                       [6_457_827_717_110_365_317, 3_203_168_211_198_807_973, 9_817_491_932_198_370_423,
                        4_593_380_528_125_082_431, 16_408_922_859_458_223_821])
    }

    func testBoundedDrawsStayInRangeAndCoverIt() {
        var rng = SeededRandom(seed: 7)
        var seen = Set<Int>()
        for _ in 0..<2000 {
            let value = rng.int(in: -3...3)
            XCTAssertTrue((-3...3).contains(value))
            seen.insert(value)
            let unit = rng.unit()
            XCTAssertTrue(unit >= 0 && unit < 1)
        }
        XCTAssertEqual(seen.count, 7)
    }
}

final class DeterminismTests: XCTestCase {
    func testSameSeedSameBytes() {
        for seed in [0, 1, 42, 1 << 40] as [UInt64] {
            XCTAssertEqual(SceneRenderer.render(SceneGenerator.scene(seed: seed)).pixels,
                           SceneRenderer.render(SceneGenerator.scene(seed: seed)).pixels)
            XCTAssertEqual(VideoSimulator.clip(seed: seed), VideoSimulator.clip(seed: seed))
            XCTAssertEqual(TaskData.demonstration(GripperExpert.task(seed: seed)),
                           TaskData.demonstration(GripperExpert.task(seed: seed)))
        }
        XCTAssertEqual(TaskData.captionedImages(.train, start: 5, count: 3),
                       Array(TaskData.captionedImages(.train, count: 8)[5...]))
        XCTAssertEqual(TaskData.questions(.heldOut, count: 4), TaskData.questions(.heldOut, count: 4))
    }

    func testDifferentSeedsAndSplitsDiffer() {
        let train = TaskData.captionedImages(.train, count: 20).map(\.scene)
        let heldOut = TaskData.captionedImages(.heldOut, count: 20).map(\.scene)
        XCTAssertEqual(Set(train).count, 20)
        XCTAssertTrue(Set(train).isDisjoint(with: heldOut))
        XCTAssertNotEqual(TaskData.seed(.train, .caption, index: 3), TaskData.seed(.heldOut, .caption, index: 3))
        XCTAssertNotEqual(TaskData.seed(.train, .caption, index: 3), TaskData.seed(.train, .question, index: 3))
    }
}

final class RendererTests: XCTestCase {
    func testShapesCoverTheirAnalyticAreaInTheirColour() {
        for shape in ShapeKind.allCases {
            for size in ObjectSize.allCases {
                let object = SceneObject(shape: shape, color: .cyan, size: size, x: 32, y: 32)
                let image = SceneRenderer.render(Scene(objects: [object]))
                var count = 0
                var xs: [Int] = [], ys: [Int] = []
                for y in 0..<64 {
                    for x in 0..<64 {
                        let p = image[x, y]
                        if p == (0, 0, 0) { continue }
                        XCTAssertTrue(p == ObjectColor.cyan.rgb, "\(shape) pixel \(x),\(y) is \(p)")
                        count += 1; xs.append(x); ys.append(y)
                    }
                }
                let side = Double(size.pixels)
                let expected = shape.fillRatio * side * side
                // Pixel-centre sampling: the area error is bounded by the perimeter's pixels.
                XCTAssertEqual(Double(count), expected, accuracy: 4 * side * 0.35, "\(shape) \(size)")
                XCTAssertEqual(xs.max()! - xs.min()! + 1, size.pixels, "\(shape) \(size) width")
                XCTAssertLessThanOrEqual(ys.max()! - ys.min()! + 1, size.pixels)
            }
        }
    }

    func testGeneratedScenesDoNotOverlapAndStayInside() {
        for seed in 0..<300 as Range<UInt64> {
            let scene = SceneGenerator.scene(seed: seed)
            XCTAssertTrue((1...3).contains(scene.objects.count))
            for (i, a) in scene.objects.enumerated() {
                XCTAssertGreaterThanOrEqual(a.x - a.halfSize, 0); XCTAssertLessThanOrEqual(a.x + a.halfSize, 64)
                XCTAssertGreaterThanOrEqual(a.y - a.halfSize, 0); XCTAssertLessThanOrEqual(a.y + a.halfSize, 64)
                for b in scene.objects[(i + 1)...] {
                    let d = ((a.x - b.x) * (a.x - b.x) + (a.y - b.y) * (a.y - b.y)).squareRoot()
                    XCTAssertGreaterThanOrEqual(d, a.boundingRadius + b.boundingRadius)
                }
            }
        }
    }
}

final class PositionStepTests: XCTestCase {
    /// Object centres on a lattice: every centre a multiple of the step, still inside and apart,
    /// and every kind of scene still possible (three large objects on an 8-pixel lattice included).
    func testPositionStepPutsCentresOnTheLattice() {
        for step in [4, 8] {
            var sawThreeLarge = false
            for seed in 0..<300 as Range<UInt64> {
                let scene = SceneGenerator.scene(seed: seed, positionStep: step)
                for (i, a) in scene.objects.enumerated() {
                    XCTAssertEqual(Int(a.x) % step, 0, "seed \(seed) x \(a.x)"); XCTAssertEqual(Int(a.y) % step, 0, "seed \(seed) y \(a.y)")
                    XCTAssertGreaterThanOrEqual(a.x - a.halfSize, 0); XCTAssertLessThanOrEqual(a.x + a.halfSize, 64)
                    XCTAssertGreaterThanOrEqual(a.y - a.halfSize, 0); XCTAssertLessThanOrEqual(a.y + a.halfSize, 64)
                    for b in scene.objects[(i + 1)...] {
                        let d = ((a.x - b.x) * (a.x - b.x) + (a.y - b.y) * (a.y - b.y)).squareRoot()
                        XCTAssertGreaterThanOrEqual(d, a.boundingRadius + b.boundingRadius)
                    }
                }
                if scene.objects.count == 3, scene.objects.allSatisfy({ $0.size == .large }) { sawThreeLarge = true }
            }
            XCTAssertTrue(sawThreeLarge, "step \(step): three large objects never placed")
        }
        // Step 1 is the default world, draw for draw.
        for seed in 0..<50 as Range<UInt64> {
            XCTAssertEqual(SceneGenerator.scene(seed: seed, positionStep: 1), SceneGenerator.scene(seed: seed))
        }
    }
}

final class CaptionTests: XCTestCase {
    func testCanonicalCaptionsRoundTrip() throws {
        var kinds = Set<SceneKind>()
        for seed in 0..<500 as Range<UInt64> {
            var rng = SeededRandom(seed: seed)
            let kind = rng.element(of: SceneKind.allCases)
            kinds.insert(kind)
            let scene = SceneGenerator.scene(kind: kind, using: &rng)
            let spec = SceneSpec(describing: scene)
            let caption = CaptionGrammar.caption(spec)
            XCTAssertEqual(try CaptionGrammar.parse(caption), spec, caption)
            XCTAssertTrue(spec.isSatisfied(by: scene.objects), caption)
            if kind == .pair { XCTAssertNotNil(spec.relation, "pair scenes state a relation: \(caption)") }
            for alternative in CaptionGrammar.alternativeCaptions(scene) {
                XCTAssertTrue(try CaptionGrammar.parse(alternative).isSatisfied(by: scene.objects), alternative)
            }
        }
        XCTAssertEqual(kinds.count, SceneKind.allCases.count)
    }

    func testGrammarExamples() throws {
        let pair = try CaptionGrammar.parse("A small red circle above a large blue square.")
        XCTAssertEqual(pair, SceneSpec(groups: [ObjectDescription(size: .small, color: .red, shape: .circle),
                                                ObjectDescription(size: .large, color: .blue, shape: .square)],
                                       relation: .above))
        XCTAssertEqual(try CaptionGrammar.parse("two green triangles"),
                       SceneSpec(groups: [ObjectDescription(count: 2, color: .green, shape: .triangle)]))
        XCTAssertEqual(try CaptionGrammar.parse("an orange cross to the left of a cyan diamond").relation, .leftOf)
        let list = try CaptionGrammar.parse("a red circle, two blue squares and a white cross")
        XCTAssertEqual(list.groups.map(\.count), [1, 2, 1])
        XCTAssertEqual(CaptionGrammar.caption(list), "a red circle, two blue squares and a white cross")
        XCTAssertEqual(CaptionGrammar.phrase(ObjectDescription(color: .orange, shape: .cross)), "an orange cross")
        XCTAssertThrowsError(try CaptionGrammar.parse("a red hexagon"))
        XCTAssertThrowsError(try CaptionGrammar.parse("two red circles above a blue square"))
        XCTAssertThrowsError(try CaptionGrammar.parse("a red circle banana"))
        XCTAssertThrowsError(try CaptionGrammar.parse(""))
    }

    /// A reading-order caption is true of the scene, the same whatever order the objects were
    /// placed in, and states only "left of" or "above".
    func testReadingOrderCaptionsAreOnePerPicture() throws {
        var related = 0
        for seed in 0..<500 as Range<UInt64> {
            let scene = SceneGenerator.scene(seed: seed, positionStep: 8)
            let caption = CaptionGrammar.readingOrderCaption(scene)
            let spec = try CaptionGrammar.parse(caption)
            XCTAssertTrue(spec.isSatisfied(by: scene.objects), caption)
            XCTAssertTrue(spec.describesSameScene(as: SceneSpec(describing: scene)), "\(caption) / \(CaptionGrammar.caption(scene))")
            XCTAssertEqual(CaptionGrammar.readingOrderCaption(Scene(objects: scene.objects.reversed())), caption)
            if let relation = spec.relation {
                related += 1
                XCTAssertTrue(relation == .leftOf || relation == .above, caption)
            }
        }
        XCTAssertGreaterThan(related, 50, "pair scenes with a relation are among them")
        let upper = SceneObject(shape: .circle, color: .red, size: .small, x: 40, y: 8)
        let lower = SceneObject(shape: .square, color: .blue, size: .large, x: 8, y: 40)
        let left = SceneObject(shape: .cross, color: .green, size: .small, x: 8, y: 16)
        XCTAssertEqual(CaptionGrammar.readingOrderCaption(Scene(objects: [lower, left, upper])),
                       "a small red circle, a small green cross and a large blue square", "top to bottom, then left to right")
    }

    func testRelationsFollowGeometry() {
        let a = SceneObject(shape: .circle, color: .red, size: .small, x: 10, y: 30)
        let b = SceneObject(shape: .square, color: .blue, size: .small, x: 40, y: 32)
        XCTAssertEqual(SpatialRelation.strict(a, b), .leftOf)
        XCTAssertEqual(SpatialRelation.strict(b, a), .rightOf)
        let diagonal = SceneObject(shape: .square, color: .blue, size: .small, x: 30, y: 48)
        XCTAssertNil(SpatialRelation.strict(a, diagonal), "20 px across vs 18 px down is ambiguous")
        XCTAssertTrue(SpatialRelation.leftOf.holdsLeniently(a, diagonal))
        XCTAssertFalse(SpatialRelation.above.holdsLeniently(a, diagonal))
    }
}

final class QuestionTests: XCTestCase {
    func testAnswersAgreeWithTheScene() {
        for sample in TaskData.questions(.train, count: 300) {
            let objects = sample.scene.objects
            let q = sample.question
            switch q.kind {
            case .countObjects: XCTAssertEqual(q.answer, CaptionGrammar.numberWord(objects.count))
            case .describe: XCTAssertEqual(q.answer, CaptionGrammar.caption(sample.scene))
            case .color:
                let shape = ShapeKind.allCases.first { q.question.contains(" \($0.rawValue)?") }!
                XCTAssertEqual(objects.filter { $0.shape == shape }.map(\.color.rawValue), [q.answer])
            case .existence:
                XCTAssertTrue(["yes", "no"].contains(q.answer))
            default: XCTAssertFalse(q.answer.isEmpty)
            }
        }
    }

    func testAnswerScoring() {
        XCTAssertTrue(AnswerScorer.isExactMatch(" Red. ", expected: "red"))
        XCTAssertEqual(AnswerScorer.attributeScore("a small red circle", expected: "a large red circle"), 0.75)
        XCTAssertEqual(AnswerScorer.attributeScore("a small red circle above a large blue square",
                                                   expected: "a small red circle below a large blue square"),
                       8.0 / 9.0, accuracy: 1e-12)
        XCTAssertEqual(AnswerScorer.attributeScore("nonsense", expected: "a red circle"), 0)

        // The order of a caption's groups is not visible in a picture: naming them in the other
        // order (relation turned round) is an exact match; anything that changes the scene is not.
        let truth = "a small cyan triangle below a large white square"
        XCTAssertTrue(AnswerScorer.isExactMatch("a large white square above a small cyan triangle", expected: truth))
        XCTAssertFalse(AnswerScorer.isExactMatch("a large white square below a small cyan triangle", expected: truth))
        XCTAssertFalse(AnswerScorer.isExactMatch("a small cyan triangle above a large white square", expected: truth))
        XCTAssertFalse(AnswerScorer.isExactMatch("a large white square and a small cyan triangle", expected: truth))
        XCTAssertTrue(AnswerScorer.isExactMatch("a large blue cross, two small red circles and a large red square",
                                                expected: "two small red circles, a large red square and a large blue cross"))
        XCTAssertFalse(AnswerScorer.isExactMatch("a small red circle, a large red square and a large blue cross",
                                                 expected: "two small red circles, a large red square and a large blue cross"))
        XCTAssertFalse(AnswerScorer.isExactMatch("two", expected: "three"))
    }
}

final class ActionTokenTests: XCTestCase {
    func testTokensRoundTripAndResolveIDs() throws {
        let actions: [DiscreteAction] = [.up, .grasp, .left, .release, .stop]
        let tokens = ActionVocabulary.tokens(for: actions)
        XCTAssertEqual(tokens.first, "<|begin_of_action|>")
        XCTAssertEqual(tokens[1], "<|action_up|>")
        XCTAssertEqual(try ActionVocabulary.actions(fromTokens: tokens), actions)
        XCTAssertThrowsError(try ActionVocabulary.actions(fromTokens: ["<|action_up|>"]))
        XCTAssertThrowsError(try ActionVocabulary.actions(fromTokens: ["<|begin_of_action|>", "up", "<|end_of_action|>"]))
        let table = Dictionary(uniqueKeysWithValues: ActionVocabulary.addedTokens.enumerated().map { ($1, 1000 + $0) })
        let ids = try ActionTokenIDs(lookup: { table[$0] })
        XCTAssertEqual(ids.ids(for: actions).count, actions.count + 2)
        XCTAssertEqual(try ids.ids(for: actions).dropFirst().dropLast().map { try ids.action(forID: $0) }, actions)
        XCTAssertEqual(Set(ids.allowedInsideSpan).count, DiscreteAction.allCases.count + 1)
        XCTAssertThrowsError(try ActionTokenIDs(lookup: { _ in nil }))
    }
}
