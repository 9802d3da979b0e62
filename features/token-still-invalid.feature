@guide-token-still-invalid
Feature: Token still invalid after re-authentication
  The guide's database checks and its manual UPDATE.

  Background:
    Given the proxy is running
    And "alice@company.com" has signed in with "google" and holds the token from the success page

  Scenario: The diagnosis finds the token; the manual UPDATE brings it back at the next request
    When I apply the fix `UPDATE agent_tokens SET is_authenticated = 0`
    And the agent sends a chat request with its token
    Then the agent sees a sandbox reply with a re-authentication URL
    When I run the diagnosis `SELECT user_email, is_authenticated, auth_expires_at FROM agent_tokens WHERE token_hash = ?;`
    Then the diagnosis shows 1 row
    And the diagnosis shows "alice@company.com"
    When I apply the fix `UPDATE agent_tokens SET is_authenticated = 1, auth_expires_at = datetime('now', '+24 hours') WHERE token_hash = ?;`
    And the agent sends a chat request with its token
    Then the agent sees the model's answer
