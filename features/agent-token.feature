@guide-agent-not-using-token
Feature: The agent does not use its token
  Symptoms: the agent receives a sandbox response although a token is configured.

  Background:
    Given the proxy is running
    And the user "alice@company.com" holds a valid agent token

  Scenario: No token at all gets the sign-in banner
    When the agent sends a chat request without a token
    Then the agent sees a sandbox reply with the login URL

  @cap-strict-wording
  Scenario: A truncated token gets a hint that it looks incomplete
    When the agent sends a chat request with its token cut short by 5 characters
    Then the sandbox reply says "looks truncated"

  Scenario: The guide's curl test with the complete token reaches the model
    When I run the guide's curl test against "/v1/chat/completions"
    Then the response status is 200
    And the agent sees the model's answer

  # SPEC: without a valid token every agent gets a sandbox reply in its own API's format, naming the login URL
  # (OpenAI chat, the Responses API that Codex CLI speaks, Anthropic messages; JSON and streamed).
  Scenario Outline: Without a token the <format> client shows where to sign in
    When the agent sends an <format> request without a token
    Then its <format> client reads a reply that names the login URL
    And the upstream received no request

    Examples:
      | format           |
      | openai-json      |
      | openai-stream    |
      | responses-json   |
      | responses-stream |
      | anthropic-json   |
      | anthropic-stream |

  # SPEC: with a valid token the request reaches the upstream with the proxy's key, streaming included.
  Scenario Outline: With its token the <format> client gets the model's answer
    When the agent sends an <format> request with its token
    Then its <format> client reads the model's answer
    And the upstream saw the proxy's key and never the agent's token

    Examples:
      | format           |
      | openai-json      |
      | openai-stream    |
      | responses-json   |
      | responses-stream |
      | anthropic-json   |
      | anthropic-stream |
