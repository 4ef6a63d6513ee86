import Testing
@testable import ConfabCore

@Suite struct PromptBuilderTests {
    let persona = PersonaCatalog().persona("teacher")!

    func message(_ role: ChatMessage.Role, _ text: String) -> ChatMessage {
        ChatMessage(role: role, content: text, timestamp: 0)
    }

    @Test func systemPromptThenWindowOldestFirstThenMessage() {
        let history = [message(.assistant, "a2"), message(.user, "u2"), message(.assistant, "a1"), message(.user, "u1")]
        let prompt = PromptBuilder(window: 3, characterBudget: 10_000).prompt(persona: persona, history: history, message: "new")
        #expect(prompt.map(\.content) == [persona.systemPrompt, "a1", "u2", "a2", "new"])
        #expect(prompt.map(\.role) == ["system", "assistant", "user", "assistant", "user"])
    }

    @Test func leavesOutEmptyRepliesButKeepsPartialOnes() {
        var partial = message(.assistant, "half a rep")
        partial.status = .partial
        var failed = message(.assistant, "")
        failed.status = .error
        let prompt = PromptBuilder(window: 10, characterBudget: 10_000)
            .prompt(persona: persona, history: [failed, partial, message(.user, "q")], message: "next")
        #expect(prompt.map(\.content) == [persona.systemPrompt, "q", "half a rep", "next"])
    }

    @Test func characterBudgetDropsTheOldestFirst() {
        let long = String(repeating: "x", count: 500)
        let history = [message(.assistant, "recent"), message(.user, long), message(.assistant, "old")]
        let budget = persona.systemPrompt.count + 3 + 6 + 100
        let prompt = PromptBuilder(window: 10, characterBudget: budget).prompt(persona: persona, history: history, message: "new")
        #expect(prompt.map(\.content) == [persona.systemPrompt, "recent", "new"])
    }
}

@Suite struct SettingsTests {
    @Test func defaultsMatchTheDocumentedOnes() throws {
        let settings = try Settings.load(from: [:])
        #expect(settings.port == 8080)
        #expect(settings.historyCap == 50)
        #expect(settings.historyWindow == 20)
        #expect(settings.historyTTLSeconds == 604_800)
        #expect(settings.debugCapture == false)
    }

    @Test(arguments: [
        ("CONFAB_HISTORY_CAP", "0"), ("CONFAB_HISTORY_WINDOW", "0"), ("CONFAB_HISTORY_WINDOW", "-3"),
        ("CONFAB_PORT", "http"), ("CONFAB_HISTORY_TTL_SECONDS", "1"), ("REDIS_URL", "localhost:6379"),
        ("OPENAI_BASE_URL", "ftp://x"), ("CONFAB_LOG_LEVEL", "loud"), ("CONFAB_DEBUG_CAPTURE", "maybe"),
        ("CONFAB_IDLE_TIMEOUT", "0"), ("CONFAB_USER_ID_PATTERN", "[unclosed"),
        ("CONFAB_AUTH", "maybe"), ("CONFAB_JWT_SECRET", "too-short"), ("CONFAB_ADMIN_TOKEN", "short"), ("CONFAB_BCRYPT_COST", "3"),
        ("CONFAB_RATE_CONCURRENT_STREAMS", "-1"),
    ])
    func refusesBadValuesNamingTheSetting(name: String, value: String) {
        #expect {
            try Settings.load(from: [name: value])
        } throws: { error in
            (error as? SettingsError)?.name == name && "\(error)".contains(name)
        }
    }

    @Test func readsDotEnvFiles() {
        let values = DotEnv.parse("""
            # comment
            export CONFAB_PORT=9000
            OPENAI_API_KEY="sk-test"
            EMPTY=
            REDIS_URL = 'redis://r:6379'
            """)
        #expect(values == ["CONFAB_PORT": "9000", "OPENAI_API_KEY": "sk-test", "EMPTY": "", "REDIS_URL": "redis://r:6379"])
    }
}
