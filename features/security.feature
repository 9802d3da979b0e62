@security
Feature: Security rules

  Scenario: The token is shown once, in the page body, never in a URL or a log line
    Given the proxy is running
    And the identity provider signs in "alice@company.com" next
    When I sign in with "google"
    And I enter the confirmation code printed for "alice@company.com"
    Then I receive an agent token
    And the page header content-security-policy is present
    And the page header x-frame-options is present
    And the console never shows the agent token

  Scenario: Reflected input is escaped
    Given the proxy is running
    When I sign in with "<img src=x onerror=alert(1)>"
    Then the page status is 404
    And the page says "Provider '<img src=x onerror=alert(1)>' not configured"
    And the page source does not contain "<img src=x onerror=alert(1)>"

  Scenario: Unauthenticated floods do not grow the database
    Given the proxy is running
    When the agent sends 30 chat requests with made-up tokens
    And I run the diagnosis `SELECT (SELECT COUNT(*) FROM agent_tokens) + (SELECT COUNT(*) FROM pending_authorizations) + (SELECT COUNT(*) FROM rate_limits)`
    Then the diagnosis shows "Integer(0)"

  # SPEC: fail closed; what the database said stays in the log, never in an answer to an anonymous client.
  Scenario: While the token store cannot be used, agents get a 503 in their API's shape without the database's words
    Given the proxy is running
    When I apply the fix `ALTER TABLE agent_tokens RENAME TO agent_tokens_away`
    And the agent sends a chat request with a made-up token
    Then the response status is 503
    And the response does not say "agent_tokens"
    And the response does not say "no such table"
    And the response does not say "os error"

  # SPEC: the OIDC state is bound to the browser that started the sign-in (login CSRF).
  Scenario: A callback URL opened in another browser signs nobody in
    Given the proxy is running
    When another browser opens the callback of a sign-in started by "mallory@company.com"
    Then the page status is 400
    And the console shows no confirmation code

  # SPEC: a confirmation code is single use, also when submitted concurrently.
  Scenario: One confirmation code submitted fifty times at once issues one token
    Given the proxy is running
    And the identity provider signs in "racer@company.com" next
    When I sign in with "google"
    And the confirmation code printed for "racer@company.com" is submitted 50 times at once
    And I run the diagnosis `SELECT COUNT(*) FROM agent_tokens`
    Then the diagnosis shows "Integer(1)"

  # SPEC: nothing outside the upstream's base path is reachable through the proxy.
  Scenario Outline: Dot segments are refused before authentication and never reach the upstream
    Given the proxy is running
    And the user "dots@company.com" holds a valid agent token
    When the agent sends a raw request to "<path>" with its token
    Then the response status is 400
    And the upstream received no request

    Examples:
      | path                          |
      | /v1/../x                      |
      | /v1/%2e%2e/%2e%2e/x           |
      | /v1/messages/%2E%2E/%2e%2e/y  |
      | /v1/models%2f..%2f..%2fx      |
      | /v1/%2E%2E/y                  |
      | /v1/./../x                    |
      | /v1/.%2e/x                    |
      | /v1/models/..                 |

  # SPEC: unauthenticated clients cannot lock everyone out of signing in.
  Scenario: Sign-ins in progress are capped per client address
    Given the proxy is running
    When 21 sign-ins are started from one address without being finished
    Then the response status is 429
    When a browser on another network starts a sign-in with "google"
    Then the response status is 303

  # SPEC: a terminal's request belongs to the first browser that enters its code (RFC 8628 section 5.4).
  @cap-device
  Scenario: A code entered in a second browser cannot take the terminal's sign-in over
    Given the proxy is running
    When a terminal asks for a sign-in code
    And I open the verification link and confirm the code
    And another browser enters the terminal's code
    Then the page status is 409
    When I open the verification link and confirm the code
    Then the page shows the address and the program of the terminal that asked
    Given the identity provider signs in "alice@company.com" next
    When I sign in with "google" for the terminal
    And I enter the confirmation code printed for "alice@company.com"
    Then the page says "Terminal signed in"
    When the terminal polls after the interval
    Then the terminal receives an agent token

  # SPEC: the device forms carry CSRF tokens bound to the browser.
  @cap-device
  Scenario: The device forms refuse a post without the page's token
    Given the proxy is running
    When a terminal asks for a sign-in code
    And the terminal's code is posted to the verification page without the form's token
    Then the page status is 403
    When I open the verification link and confirm the code
    And a refusal is posted without the form's token
    Then the page status is 403
    When the terminal polls
    Then the terminal is told "authorization_pending"

  # SPEC: nothing an anonymous client does from many addresses locks other users out (section 12).
  @cap-device
  Scenario: One host with many addresses of one network cannot use up the terminal sign-ins
    Given the proxy is running
    When 30 addresses of one network each ask for 2 sign-in codes
    Then 20 of those answers are 200
    And 40 of those answers are 429
    When a terminal asks for a sign-in code
    Then the terminal receives a device code, a user code like "BCDF-GHJK", the verification URI and an interval
    When a browser on another network starts a sign-in with "google"
    Then the response status is 303

  # SPEC: a full global cap refuses new anonymous work only, never someone who holds a token (section 12).
  @cap-device
  Scenario: Strangers filling the sign-in table refuse new anonymous sign-ins only, never a token holder's renewal
    Given the proxy is running
    And "alice@company.com" has signed in with "google" and holds the token from the success page
    When I apply the fix `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000) INSERT INTO pending_authorizations (id, kind, client_ip, expires_at) SELECT 'stranger-' || i, 'oidc', '10.' || (i % 200) || '.' || (i % 250) || '.1', datetime('now', '+10 minutes') FROM n`
    And a terminal asks for a sign-in code
    Then the response status is 503
    When the terminal asks for a sign-in code to renew its token
    Then the terminal receives a device code, a user code like "BCDF-GHJK", the verification URI and an interval

  # SPEC: guesses of user codes are limited per network as well as per address (RFC 8628 section 5.1).
  @cap-device
  Scenario: Wrong user codes from many addresses of one network meet the network's limit
    Given the proxy is running
    When a terminal asks for a sign-in code
    And 30 addresses of one network each enter a wrong user code
    Then 20 of those answers are 422
    And 10 of those answers are 429
    When I open the verification link and confirm the code
    Then the page shows the address and the program of the terminal that asked

  # SPEC: revocation is a soft delete (is_active = 0); a revoked token is refused on its next request.
  Scenario: A token revoked with the guide's SQL is refused on its next request
    Given the proxy is running
    And "alice@company.com" has signed in with "google" and holds the token from the success page
    When the agent sends a chat request with its token
    Then the agent sees the model's answer
    When I apply the fix `UPDATE agent_tokens SET is_active = 0 WHERE token_hash = ?`
    And the agent sends a chat request with its token
    Then the agent sees a sandbox reply with the login URL
    And the upstream received 1 request

  @cap-operator-cli
  Scenario: A token revoked with the operator command is refused on its next request
    Given the proxy is running
    And "alice@company.com" has signed in with "google" and holds the token from the success page
    When I run the proxy with "tokens revoke --user alice@company.com"
    Then the command succeeds
    When the agent sends a chat request with its token
    Then the agent sees a sandbox reply with the login URL
    And the upstream received 0 requests

  # SPEC: the OIDC state is single use: a callback URL opened twice signs in once.
  Scenario: Opening the same callback URL twice signs in once
    Given the proxy is running
    And the identity provider signs in "alice@company.com" next
    When I sign in with "google"
    Then the page says "Check server console"
    When I open the callback URL of that sign-in again
    Then the page status is 400
    And the confirmation code for "alice@company.com" appears once, on a WARN line

  # SPEC: the sign-in forms are small; a large body is refused before it is read.
  Scenario Outline: A sign-in form of 100 KiB is refused with 413
    Given the proxy is running
    When a browser posts a form of 100 KiB to "<path>"
    Then the response status is 413

    Examples:
      | path          |
      | /auth/confirm |

  @cap-device
  Scenario Outline: A terminal sign-in form of 100 KiB is refused with 413
    Given the proxy is running
    When a browser posts a form of 100 KiB to "<path>"
    Then the response status is 413

    Examples:
      | path               |
      | /auth/device       |
      | /auth/device/code  |
      | /auth/device/token |
      | /auth/device/refuse |
      | /auth/revoke       |

  # SPEC: X-Forwarded-For is walked from the right: the first address that is not a trusted proxy is the
  # client's; an unreadable entry stops the walk at the peer before it.
  @cap-trusted-proxies
  Scenario Outline: Behind a trusted reverse proxy the client address is read from the right of X-Forwarded-For
    Given the proxy trusts the reverse proxy at "127.0.0.1/32"
    And the proxy is running
    When a browser starts a sign-in with "google" through the reverse proxy, which sends X-Forwarded-For "<forwarded for>"
    And I run the diagnosis `SELECT client_ip FROM pending_authorizations`
    Then the diagnosis's only value is "<client>"

    Examples:
      | forwarded for               | client       |
      | 203.0.113.9, 198.51.100.4   | 198.51.100.4 |
      | 198.51.100.1, garbage       | 127.0.0.1    |
      | 198.51.100.2:5555           | 198.51.100.2 |
      | ::ffff:198.51.100.3         | 198.51.100.3 |

  # SPEC: the proxy's own upstream key decides whose bill a request goes to; headers an agent sends to pick an
  # organisation, a project or another key, and hop-by-hop headers, stay at the proxy.
  Scenario: Headers that choose the bill or the hop never reach the upstream
    Given the proxy is running
    And the user "headers@company.com" holds a valid agent token
    When the agent sends a chat request with its token and the headers:
      | OpenAI-Organization | org-attacker             |
      | OpenAI-Project      | proj-attacker            |
      | api-key             | azure-key-of-someone     |
      | Connection          | keep-alive, X-Hop-Secret |
      | X-Hop-Secret        | hop                      |
      | X-Kept              | kept                     |
    Then the agent sees the model's answer
    And the upstream request carried none of the headers "OpenAI-Organization, OpenAI-Project, api-key, X-Hop-Secret"
    And the upstream request carried the header X-Kept "kept"

  # SPEC: a non-streamed upstream call has one deadline for the whole exchange, also when bytes keep coming.
  @cap-upstream-timeouts
  Scenario: A non-streamed reply that trickles forever is cut at the whole-request deadline
    Given the deadline of a non-streamed upstream request is 1 second
    And the proxy is running
    And the user "slow@company.com" holds a valid agent token
    When the agent asks the model "mock-trickle" with its token, without streaming, and waits at most 15 seconds
    Then the response does not say "finish_reason"

  # SPEC: an attempt is claimed in one statement: guesses sent together get no more tries than the limit
  # (3 attempts: at most 2 answers "wrong code", the third ends the confirmation).
  Scenario: Wrong codes submitted twenty times at once are judged no more often than the attempts allow
    Given the proxy is running
    And the identity provider signs in "guesser@company.com" next
    When I sign in with "google"
    And a wrong confirmation code for "guesser@company.com" is submitted 20 times at once
    Then at most 2 of those answers are 422
    When I enter the confirmation code printed for "guesser@company.com"
    Then the page shows no agent token

  # SPEC: Entra sends no email_verified; only a tenant listed in allowed_tenants vouches for its addresses.
  Scenario: An Entra account is refused when no tenant is allowed
    Given the Microsoft provider allows no tenants
    And the identity provider knows "carol@contoso.com" in the Entra tenant "b9c6a2f4-1f3e-4d8a-9c3b-2e7d5f6a8b10"
    And the identity provider signs in "carol@contoso.com" next
    And the proxy is running
    When I sign in with "microsoft"
    Then the page status is 403
    And the page shows no agent token
    And the console shows no confirmation code

  # SPEC: POST /auth/revoke (RFC 7009) revokes the token it is given; only the token itself does.
  @cap-device
  Scenario: A token posted to /auth/revoke is refused on its next request
    Given the proxy is running
    And "alice@company.com" has signed in with "google" and holds the token from the success page
    When the token is posted to /auth/revoke
    Then the response status is 200
    When the agent sends a chat request with its token
    Then the agent sees a sandbox reply with the login URL
    And the upstream received 0 requests

  # The token's hash is in every renewal link, so it must not revoke; nor may a part of the token.
  @cap-device
  Scenario Outline: Nothing but the token itself revokes it at /auth/revoke
    Given the proxy is running
    And "alice@company.com" has signed in with "google" and holds the token from the success page
    When <what> is posted to /auth/revoke
    And the agent sends a chat request with its token
    Then the agent sees the model's answer

    Examples:
      | what                                 |
      | the token's hash                     |
      | the token without its last character |
      | the token's first half               |
