@guide-agent-not-using-token
Feature: The agent does not use its token
  Symptoms: the agent receives a sandbox response although a token is configured.

  Background:
    Given the proxy is running
    And the user "alice@company.com" holds a valid agent token

  Scenario: No token at all gets the sign-in banner
    When the agent sends a chat request without a token
    Then the agent sees a sandbox reply with the login URL

  Scenario: A truncated token gets a hint that it looks incomplete
    When the agent sends a chat request with its token cut short by 5 characters
    Then the sandbox reply says "looks truncated"

  Scenario: The guide's curl test with the complete token reaches the model
    When I run the guide's curl test against "/v1/chat/completions"
    Then the response status is 200
    And the agent sees the model's answer
