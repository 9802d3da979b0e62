@spec-terminal-sign-in @cap-device
Feature: Sign-in from a terminal (RFC 8628 device authorization)
  A terminal with no browser asks the proxy for a code, the user enters it on any device, signs in with SSO and
  passes the same authorization as in the browser; the terminal polls and receives its agent token, once.
  # SPEC: device authorization at the proxy (RFC 8628 sections 3.1-3.5)

  Scenario: Happy path in single_user mode: pending until the sign-in, then the token, exactly once
    Given the proxy is running
    When a terminal asks for a sign-in code
    Then the terminal receives a device code, a user code like "BCDF-GHJK", the verification URI and an interval
    When the terminal polls
    Then the terminal is told "authorization_pending"
    When I open the verification link and confirm the code
    Then the page shows the address and the program of the terminal that asked
    Given the identity provider signs in "alice@company.com" next
    When I sign in with "google" for the terminal
    And I enter the confirmation code printed for "alice@company.com"
    Then the page says "Terminal signed in"
    And the page shows no agent token
    When the terminal polls after the interval
    Then the terminal receives an agent token
    When the agent sends a chat request with its token
    Then the agent sees the model's answer
    When the terminal polls after the interval
    Then the terminal is told "invalid_grant"
    When I run the diagnosis `SELECT COUNT(*) FROM agent_tokens WHERE user_email = 'alice@company.com'`
    Then the diagnosis counts 1

  Scenario: Happy path in enterprise mode: the authorization API decides
    Given enterprise authorization with a 5 second timeout
    And the authorization API allows only "alice@company.com"
    And the proxy is running
    When a terminal asks for a sign-in code
    And I open the verification link and confirm the code
    Given the identity provider signs in "alice@company.com" next
    When I sign in with "google" for the terminal
    Then the page says "Terminal signed in"
    When the terminal polls after the interval
    Then the terminal receives an agent token
    When the agent sends a chat request with its token
    Then the agent sees the model's answer

  Scenario: The authorization API says no: the terminal is told access_denied
    Given enterprise authorization with a 5 second timeout
    And the authorization API allows only "alice@company.com"
    And the proxy is running
    When a terminal asks for a sign-in code
    And I open the verification link and confirm the code
    Given the identity provider signs in "bob@example.com" next
    When I sign in with "google" for the terminal
    Then the page says "Access denied"
    When the terminal polls
    Then the terminal is told "access_denied"

  Scenario: The person shown the request refuses it: access_denied, and no token for anyone
    Given the proxy is running
    When a terminal asks for a sign-in code
    And I open the verification link and confirm the code
    And I refuse the terminal's sign-in
    Then the page says "Sign-in refused"
    When the terminal polls
    Then the terminal is told "access_denied"
    When I run the diagnosis `SELECT COUNT(*) FROM agent_tokens`
    Then the diagnosis counts 0

  # SPEC: a refusal is final: signing in for the refused request afterwards gives nobody a token.
  Scenario: A refused terminal sign-in stays refused, even when someone signs in for it afterwards
    Given the proxy is running
    When a terminal asks for a sign-in code
    And I open the verification link and confirm the code
    And I refuse the terminal's sign-in
    Given the identity provider signs in "alice@company.com" next
    When I sign in with "google" for the refused terminal anyway
    And I enter the confirmation code printed for "alice@company.com", if one was printed
    Then the page shows no agent token
    And the page does not say "Terminal signed in"
    When the terminal polls
    Then the terminal is told "access_denied"
    When I run the diagnosis `SELECT COUNT(*) FROM agent_tokens`
    Then the diagnosis counts 0

  Scenario: Polling faster than the interval is told slow_down
    Given the terminal sign-in polling interval is 5 seconds
    And the proxy is running
    When a terminal asks for a sign-in code
    Then the terminal is told to poll every 5 seconds
    When the terminal polls
    Then the terminal is told "authorization_pending"
    When the terminal polls
    Then the terminal is told "slow_down"

  Scenario: An expired request: expired_token for the terminal, an unknown code on the page
    Given the proxy is running
    When a terminal asks for a sign-in code
    Then the terminal's code expires in 600 seconds
    When I apply the fix `UPDATE pending_authorizations SET expires_at = datetime('now', '-1 minute') WHERE kind = 'device'`
    And the terminal polls
    Then the terminal is told "expired_token"
    When I open the verification link and confirm the code
    Then the page status is 422
    And the page says "Unknown or expired code"

  Scenario: Codes are stored hashed and the request is single use
    Given the proxy is running
    When a terminal asks for a sign-in code
    And I run the diagnosis `SELECT id || ' ' || code_hash FROM pending_authorizations WHERE kind = 'device'`
    Then the diagnosis shows 1 row
    And the diagnosis never shows the device code or the user code
    When I open the verification link and confirm the code
    Given the identity provider signs in "alice@company.com" next
    When I sign in with "google" for the terminal
    And I enter the confirmation code printed for "alice@company.com"
    And the terminal polls after the interval
    Then the terminal receives an agent token
    When I run the diagnosis `SELECT COUNT(*) FROM pending_authorizations WHERE kind = 'device'`
    Then the diagnosis counts 0
    When I open the verification link and confirm the code
    Then the page says "Unknown or expired code"

  Scenario: Renewal: a terminal holding a lapsed token renews that same token
    Given the proxy is running
    And "alice@company.com" has signed in with "google" and holds the token from the success page
    When I apply the fix `UPDATE agent_tokens SET auth_expires_at = datetime('now', '-1 hour')`
    And the agent sends a chat request with its token
    Then the agent sees a sandbox reply with a re-authentication URL
    When the terminal asks for a sign-in code to renew its token
    And I open the verification link and confirm the code
    Given the identity provider signs in "alice@company.com" next
    When I sign in with "google" for the terminal
    And I enter the confirmation code printed for "alice@company.com"
    Then the page says "Terminal signed in"
    When the terminal polls after the interval
    Then the terminal is told its token was renewed
    When the agent sends a chat request with its token
    Then the agent sees the model's answer
    When I run the diagnosis `SELECT COUNT(*) FROM agent_tokens`
    Then the diagnosis counts 1

  Scenario: Renewal by another account is refused, on the page and to the terminal
    Given the proxy is running
    And "alice@company.com" has signed in with "google" and holds the token from the success page
    When the terminal asks for a sign-in code to renew its token
    And I open the verification link and confirm the code
    Given the identity provider signs in "mallory@company.com" next
    When I sign in with "google" for the terminal
    And I enter the confirmation code printed for "mallory@company.com"
    Then the page says "Not your token"
    When the terminal polls after the interval
    Then the terminal is told "access_denied"

  Scenario: Guessing user codes meets the same backoff as confirmation codes
    Given the proxy is running
    When a terminal asks for a sign-in code
    And I enter a wrong user code on the verification page
    Then the page status is 422
    And the page says "Unknown or expired code"
    When I enter a wrong user code on the verification page
    And I open the verification link and confirm the code
    Then the page status is 429
    And the page says "Please wait before trying again"
    When I run the diagnosis `SELECT failed_attempts FROM rate_limits WHERE identifier = '127.0.0.1'`
    Then the diagnosis counts 2

  Scenario: A sign-in link for a terminal's request, sent to someone else, signs nobody in
    # SPEC: RFC 8628 section 5.4 (remote phishing): only the browser that entered the code, and saw who asked, signs in
    Given the proxy is running
    When a terminal asks for a sign-in code
    And I open the verification link and confirm the code
    And another browser opens the sign-in link for the terminal with "google"
    Then the page status is 403
    And the page says "Enter the code first"
    When I run the diagnosis `SELECT COUNT(*) FROM pending_authorizations WHERE kind = 'oidc'`
    Then the diagnosis counts 0
    When the terminal polls
    Then the terminal is told "authorization_pending"

  Scenario: What the terminal says about itself is shown escaped
    Given the proxy is running
    When a terminal with the user agent "<script>alert(1)</script>" asks for a sign-in code
    And I open the verification link and confirm the code
    Then the page says "<script>alert(1)</script>"
    And the page source does not contain "<script>alert(1)</script>"

  Scenario: Sign-ins in progress from one address are capped, terminal requests included
    Given the proxy is running
    When 20 sign-ins are started from one address without being finished
    And a terminal asks for a sign-in code
    Then the response status is 429
    And the response says "slow_down"

  Scenario: The token endpoint speaks only the device grant
    Given the proxy is running
    When a terminal polls with the grant type "authorization_code"
    Then the terminal is told "unsupported_grant_type"
