@guide-session-expired
Feature: Session expired
  Symptoms: "Session expired" message in the agent, a sandbox response with a re-authentication URL.

  Scenario: An expired session gets the re-authentication URL; the active tokens show their expiry
    Given the proxy is running
    And "alice@company.com" has signed in with "google" and holds the token from the success page
    When I apply the fix `UPDATE agent_tokens SET auth_expires_at = datetime('now', '-1 minute')`
    And the agent sends a chat request with its token
    Then the agent sees a sandbox reply with a re-authentication URL
    When I run the diagnosis `SELECT user_email, auth_expires_at FROM agent_tokens WHERE is_active = 1;`
    Then the diagnosis shows "alice@company.com"

  Scenario: Re-authenticating in the browser renews the same token, which works again
    Given the proxy is running
    And the identity provider signs in "alice@company.com" next
    When I sign in with "google"
    And I enter the confirmation code printed for "alice@company.com"
    Then I receive an agent token
    When I apply the fix `UPDATE agent_tokens SET auth_expires_at = datetime('now', '-1 minute')`
    And the agent sends a chat request with its token
    Then the agent sees a sandbox reply with a re-authentication URL
    Given the identity provider signs in "alice@company.com" next
    When I open the re-authentication URL from the sandbox reply and sign in with "google"
    And I enter the confirmation code printed for "alice@company.com"
    Then the page shows no agent token
    When the agent sends a chat request with its token
    Then the agent sees the model's answer
