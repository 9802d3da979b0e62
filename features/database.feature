@cap-sqlite-file
Feature: The token database

  @guide-database-locked
  Scenario: WAL is on, so readers never wait for the guide's manual fixes
    Given the proxy is running
    When I run the diagnosis `PRAGMA journal_mode;`
    Then the diagnosis shows "wal"

  @guide-database-corrupt @cap-operator-cli
  Scenario: A damaged database stops startup with SQLite's message and the recovery command
    Given the kit's standard configuration
    And the database file contains garbage
    When I run the proxy with ""
    Then the command fails with exit code 1
    And the output says "file is not a database"
    And the output says "db recover"

  @guide-database-corrupt
  Scenario: A deleted database is created again, empty; users sign in again
    Given the proxy is running
    And "alice@company.com" has signed in with "google" and holds the token from the success page
    When the database file is deleted and the proxy restarted
    Then the database file exists
    When I run the diagnosis `SELECT COUNT(*) FROM agent_tokens`
    Then the diagnosis shows "Integer(0)"
    When the agent sends a chat request with its token
    Then the agent sees a sandbox reply with the login URL
    And the upstream received 0 requests
    Given "alice@company.com" has signed in with "google" and holds the token from the success page
    When the agent sends a chat request with its token
    Then the agent sees the model's answer

  @guide-database-locked
  Scenario: While another process holds the write lock, agents keep working and a sign-in waits, then succeeds
    Given the proxy is running
    And the user "alice@company.com" holds a valid agent token
    And another process holds a write lock on the database for 1500 ms
    When the agent sends a chat request with its token
    Then the agent sees the model's answer
    Given the identity provider signs in "bob@example.com" next
    When I sign in with "google"
    Then the page says "Check server console"

  @guide-database-corrupt @cap-operator-cli
  Scenario: The guide's dump-and-restore, as one command that keeps the damaged file aside
    Given the proxy is running
    And the user "alice@company.com" holds a valid agent token
    When I run the proxy with "db recover"
    Then the command succeeds
    And the output says "agent_tokens: 1 rows recovered"
    And the output says "damaged file kept as"

  @guide-database-corrupt @cap-operator-cli
  Scenario: db check names the problem and the fix
    Given the kit's standard configuration
    And the database file contains garbage
    When I run the proxy with "db check"
    Then the command fails with exit code 1
    And the output says "db recover"
