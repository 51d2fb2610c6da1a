import XCTest
@testable import ShapesWorld

/// `GripperSituation`: where the gripper, the named object and the goal are, as `--locate-then-act`
/// teaches a model to write before acting.
final class GripperSituationTests: XCTestCase {
    func testTextNamesTheGripperTargetAndGoalCells() {
        let square = GridObject(shape: .square, color: .red, cell: GridCell(column: 3, row: 0))
        let circle = GridObject(shape: .circle, color: .blue, cell: GridCell(column: 1, row: 1))
        var world = GripperWorld(objects: [square, circle], gripper: GridCell(column: 1, row: 2))
        let place = GripperInstruction.place(ObjectReference(color: .red, shape: .square), .leftOf,
                                             ObjectReference(color: .blue, shape: .circle))
        XCTAssertEqual(GripperSituation.text(of: world, for: place), "gripper 1 2 open target 3 0 goal 0 1")
        let corner = GripperInstruction.moveToCorner(ObjectReference(color: .blue, shape: .circle), .bottomRight)
        XCTAssertEqual(GripperSituation.text(of: world, for: corner), "gripper 1 2 open target 1 1 goal 3 3")
        // Closed over the circle and carrying it to the left edge: the square's goal is off the grid.
        world.step(.up); world.step(.grasp); world.step(.left)
        XCTAssertEqual(GripperSituation.text(of: world, for: place), "gripper 0 1 closed target 3 0 goal none")
        let missing = GripperInstruction.moveToCorner(ObjectReference(color: .green, shape: .cross), .topLeft)
        XCTAssertEqual(GripperSituation.text(of: world, for: missing), "gripper 0 1 closed target none goal 0 0")
        XCTAssertEqual(GripperSituation.text(of: world, for: place, listingObjects: true),
                       "red square 3 0 blue circle 0 1 gripper 0 1 closed target 3 0 goal none")
    }

    func testPartsAndAccuracyCompareWhatWasWrittenPartByPart() {
        XCTAssertEqual(GripperSituation.parts(of: "gripper 1 2 open target 3 0 goal none"),
                       ["gripper": "1 2 open", "target": "3 0", "goal": "none"])
        XCTAssertEqual(GripperSituation.parts(of: "2 target 1 goal"), ["objects": "2", "target": "1", "goal": ""])
        XCTAssertEqual(GripperSituation.parts(of: ""), [:])
        XCTAssertEqual(GripperSituation.parts(of: "red square 3 0 gripper 0 1 closed"), ["objects": "red square 3 0", "gripper": "0 1 closed"])
        let truth = ["gripper 1 2 open target 3 0 goal 0 1", "gripper 0 0 closed target 0 0 goal 3 3"]
        let written = ["gripper 1 2 open target 3 1 goal 0 1", "gripper 0 0 closed target 0 0 goal 3 3"]
        XCTAssertEqual(GripperSituation.accuracy(written: written, truth: truth),
                       ["gripper": 1, "target": 0.5, "goal": 1, "all": 0.5])
        XCTAssertEqual(GripperSituation.accuracy(written: ["", "goal 3 3"], truth: truth),
                       ["gripper": 0, "target": 0, "goal": 0.5, "all": 0])
        // With object lists, the list is scored too.
        let listed = ["red square 3 0 gripper 1 2 open target 3 0 goal 0 1", "blue circle 1 1 gripper 0 0 open target 1 1 goal 3 3"]
        let misread = ["red square 3 1 gripper 1 2 open target 3 0 goal 0 1", "blue circle 1 1 gripper 0 0 open target 1 1 goal 3 3"]
        XCTAssertEqual(GripperSituation.accuracy(written: misread, truth: listed),
                       ["objects": 0.5, "gripper": 1, "target": 1, "goal": 1, "all": 0.5])
    }

    /// Over noisy demonstrations: `worlds()` are the pictured states, and every text fits the
    /// vocabulary and the room a model is given for it.
    func testEpisodeWorldsArePicturedAndTextsFitTheirWords() {
        for episode in TaskData.actionEpisodes(.heldOut, count: 20, noise: 0.25) {
            let worlds = episode.worlds()
            XCTAssertEqual(worlds.count, episode.executed.count)
            XCTAssertEqual(worlds.first, episode.task.world)
            for (world, frame) in zip(worlds, episode.frames) {
                XCTAssertEqual(world.render(), frame)
                for listing in [false, true] {
                    let text = GripperSituation.text(of: world, for: episode.task.instruction, listingObjects: listing)
                    let words = text.split(separator: " ").map(String.init)
                    XCTAssertLessThanOrEqual(words.count, GripperSituation.maximumWords)
                    XCTAssertTrue(words.allSatisfy(GripperSituation.words.contains), "\(words)")
                    XCTAssertEqual(GripperSituation.parts(of: text)[GripperSituation.objectsPart],
                                   listing ? world.objects.map { "\($0.name) \($0.cell.column) \($0.cell.row)" }.joined(separator: " ") : nil)
                }
            }
        }
    }
}
