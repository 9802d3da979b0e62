Feature: The confirmation code (single_user mode)

  @guide-code-not-appearing
  Scenario: The code appears in the server console at WARNING, once
    Given the proxy is running
    And the identity provider signs in "alice@company.com" next
    When I sign in with "google"
    Then the page says "Check server console"
    And the confirmation code for "alice@company.com" appears once, on a WARN line

  @guide-code-not-appearing
  Scenario: With --log-level ERROR the code is not shown
    Given the proxy is started with "--log-level ERROR"
    And the proxy is running
    And the identity provider signs in "alice@company.com" next
    When I sign in with "google"
    Then the console shows no confirmation code

  @guide-code-expired
  Scenario: An expired code sends the user back to SSO, which issues a new one
    Given the proxy is running
    And the identity provider signs in "alice@company.com" next
    When I sign in with "google"
    And I apply the fix `UPDATE pending_authorizations SET expires_at = datetime('now', '-1 minute')`
    And I enter the confirmation code printed for "alice@company.com"
    Then the page says "Confirmation code expired"
    Given the identity provider signs in "alice@company.com" next
    When I sign in with "google"
    And I enter the confirmation code printed for "alice@company.com"
    Then I receive an agent token

  @guide-max-attempts
  Scenario: Three wrong codes: "Maximum attempts exceeded"; a new SSO login resets the counter
    Given the proxy is running
    And the identity provider signs in "bob@example.com" next
    When I sign in with "google"
    And I enter a wrong confirmation code for "bob@example.com"
    Then the page shows no agent token
    When I apply the fix `DELETE FROM rate_limits`
    And I enter a wrong confirmation code for "bob@example.com"
    And I apply the fix `DELETE FROM rate_limits`
    And I enter a wrong confirmation code for "bob@example.com"
    Then the page says "Maximum attempts exceeded"
    When I apply the fix `DELETE FROM rate_limits`
    Given the identity provider signs in "bob@example.com" next
    When I sign in with "google"
    And I enter the confirmation code printed for "bob@example.com"
    Then I receive an agent token

  @guide-max-attempts
  Scenario: A configured limit of 1 attempt
    Given the authorization setting max_confirmation_attempts is 1
    And the proxy is running
    And the identity provider signs in "bob@example.com" next
    When I sign in with "google"
    And I enter a wrong confirmation code for "bob@example.com"
    Then the page says "Maximum attempts exceeded"

  @guide-rate-limited
  Scenario: Failures back off: "Please wait before trying again"; the guide's DELETE clears it
    Given the proxy is running
    And the identity provider signs in "bob@example.com" next
    When I sign in with "google"
    And I enter a wrong confirmation code for "bob@example.com"
    And I enter a wrong confirmation code for "bob@example.com"
    And I enter the confirmation code printed for "bob@example.com"
    Then the page status is 429
    And the page says "Please wait before trying again"
    And the page header retry-after is present
    When I run the diagnosis `SELECT identifier, failed_attempts, blocked_until FROM rate_limits;`
    Then the diagnosis shows "127.0.0.1"
    When I apply the fix `DELETE FROM rate_limits WHERE identifier = '127.0.0.1';`
    And I sign in with "google"
    Then the page status is 200

  @guide-code-not-appearing @cap-strict-wording
  Scenario: The proxy warns at startup when the log level would hide the code
    Given the proxy is started with "--log-level ERROR"
    And the proxy is running
    Then the console shows "single_user mode prints the confirmation code at WARNING level"

  @guide-code-not-appearing
  Scenario: Enterprise mode shows no code at all
    Given enterprise authorization with a 5 second timeout
    And the authorization API allows only "alice@company.com"
    And the proxy is running
    And the identity provider signs in "alice@company.com" next
    When I sign in with "google"
    Then I receive an agent token
    And the console shows no confirmation code

  # SPEC + guide: backoff after failed attempts: none after the first, then 2 s doubling up to the cap, shared by
  # the confirmation, the login start and the callback (keyed by client IP).
  @guide-rate-limited
  Scenario: The backoff doubles from 2 seconds to the cap and blocks every sign-in step
    Given the backoff is capped at 8 seconds
    And the proxy is running
    And the identity provider signs in "bob@example.com" next
    When I sign in with "google"
    And I enter a wrong confirmation code for "bob@example.com"
    Then the page status is 422
    When I enter a wrong confirmation code for "bob@example.com"
    Then the page status is 422
    When I enter a wrong confirmation code for "bob@example.com"
    Then the page asks to wait 2 seconds
    When the block has passed
    And I enter a wrong confirmation code for "bob@example.com"
    And I enter a wrong confirmation code for "bob@example.com"
    Then the page asks to wait 4 seconds
    When the block has passed
    And I enter a wrong confirmation code for "bob@example.com"
    And I enter a wrong confirmation code for "bob@example.com"
    Then the page asks to wait 8 seconds
    When the block has passed
    And I enter a wrong confirmation code for "bob@example.com"
    And I enter a wrong confirmation code for "bob@example.com"
    Then the page asks to wait 8 seconds
    When I sign in with "google"
    Then the page asks to wait 8 seconds
    When I open the callback URL of that sign-in again
    Then the page asks to wait 8 seconds
