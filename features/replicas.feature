@spec-replicas @cap-replicas @cap-postgres
Feature: Several replicas on one PostgreSQL database
  Replicas behind a load balancer share tokens, sign-ins in progress and backoff through one database:
  no sticky sessions, one decision wherever it is made.

  Background:
    Given two replicas of the proxy share one PostgreSQL database

  Scenario: A sign-in started on replica A finishes on replica B, and the token works on both
    Given the identity provider signs in "alice@company.com" next
    When a browser starts a sign-in with "google" at replica A
    And the identity provider's answer reaches replica B
    And the browser types the code that replica B printed for "alice@company.com"
    Then the browser received an agent token
    And replica A forwards a chat request with that token
    And replica B forwards a chat request with that token

  Scenario: A token revoked through replica A is refused by replica B at its next request
    Given the user "bob@company.com" holds a valid agent token
    And replica B forwards a chat request with that token
    When the operator revokes the tokens of "bob@company.com" with replica A's configuration
    Then replica B answers that token with the sign-in sandbox reply

  Scenario: Backoff earned on replica A applies on replica B
    Given the identity provider signs in "eve@company.com" next
    When a browser starts a sign-in with "google" at replica A
    And the identity provider's answer reaches replica A
    And the browser types a wrong code twice at replica A
    Then replica B makes the client wait before a new sign-in

  Scenario: One replica stopped mid-stream, the other keeps serving
    Given the user "carol@company.com" holds a valid agent token
    And the upstream streams slowly
    When a streamed chat reply starts at replica A
    And replica A is stopped
    Then replica B forwards a chat request with that token
