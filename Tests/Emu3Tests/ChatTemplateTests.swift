import Emu3
import XCTest

/// ChatTemplate renders as transformers' `apply_chat_template` (fixture from
/// scripts/reference/chat_templates.py and the chat golden).
final class ChatTemplateTests: XCTestCase {
    func testRenderingMatchesTransformers() throws {
        let golden = try Emu3Fixtures.json("chat_templates")
        let templates = try XCTUnwrap(golden["templates"] as? [String: String])
        let cases = try XCTUnwrap(golden["cases"] as? [[String: Any]])
        XCTAssertEqual(cases.count, 8)
        for (index, item) in cases.enumerated() {
            let template = try ChatTemplate(try XCTUnwrap(templates[try XCTUnwrap(item["template"] as? String)]))
            let messages = try Self.messages(item["messages"])
            let rendered = try template.render(messages, addGenerationPrompt: try XCTUnwrap(item["add_generation_prompt"] as? Bool))
            XCTAssertEqual(rendered, item["rendered"] as? String, "case \(index)")
        }
    }

    /// The tiny checkpoint's own template on the chat golden's conversation gives its prompt text.
    func testCheckpointTemplateGivesTheGoldenChatPrompt() throws {
        let pipeline = try Emu3Pipeline(directory: Emu3Fixtures.tinyCheckpoint, components: [])
        let template = try ChatTemplate(try XCTUnwrap(pipeline.chatTemplate))
        let golden = try Emu3Fixtures.json("chat")
        XCTAssertEqual(try template.render(try Self.messages(golden["conversation"])), golden["prompt_text"] as? String)
    }

    func testUnsupportedConstructsAreErrors() {
        XCTAssertThrowsError(try ChatTemplate("{% macro m() %}{% endmacro %}"))
        XCTAssertThrowsError(try ChatTemplate("{% if x %}unclosed"))
        XCTAssertThrowsError(try ChatTemplate("{{ messages | tojson }}").render([]))
    }

    static func messages(_ value: Any?) throws -> [ChatTemplate.Message] {
        try XCTUnwrap(value as? [[String: Any]]).map { message in
            let parts = try XCTUnwrap(message["content"] as? [[String: Any]]).map { part -> ChatTemplate.Message.Part in
                part["type"] as? String == "image" ? .image : .text(try XCTUnwrap(part["text"] as? String))
            }
            return ChatTemplate.Message(role: try XCTUnwrap(message["role"] as? String), content: parts)
        }
    }
}
