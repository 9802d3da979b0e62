@guide-session-expired
Feature: Session expired
  Symptoms: "Session expired" message in the agent, a sandbox response with a re-authentication URL.

  Scenario: An expired session gets the re-authentication URL; the active tokens show their expiry
    Given the proxy is running
    And the user "alice@company.com" holds a valid agent token
    When I apply the fix `UPDATE agent_tokens SET auth_expires_at = datetime('now', '-1 minute')`
    And the agent sends a chat request with its token
    Then the agent sees a sandbox reply with a re-authentication URL
    When I run the diagnosis `SELECT user_email, auth_expires_at FROM agent_tokens WHERE is_active = 1;`
    Then the diagnosis shows "alice@company.com"
