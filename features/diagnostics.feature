@guide-diagnostics
Feature: Diagnostics the troubleshooting guide starts with
  "Check if proxy is running", "Validate configuration", "Start proxy with debug logging".

  Scenario: The health endpoint answers when the proxy runs
    Given the proxy is running
    When I request GET "/health"
    Then the response status is 200
    And the response body is JSON:
      """
      {"status": "ok"}
      """

  @cap-strict-wording
  Scenario: --version prints the version
    When I run the proxy with "--version"
    Then the command succeeds
    And the output says "llm-sso-proxy "

  @cap-strict-wording
  Scenario: --validate-only accepts a good configuration and prints what to register
    Given the kit's standard configuration
    When I run the proxy with "--validate-only"
    Then the command succeeds
    And the output says "configuration OK"
    And the output says "redirect URI to register for provider 'google'"
    And the output does not contain "kit-secret-not-real"

  @cap-strict-wording
  Scenario: --validate-only reports every problem at once, with its location
    Given the proxy configuration file:
      """
      server:
        prot: 8080
      sso:
        enabled: "true"
        authorization:
          mode: "single-user"
      """
    When I run the proxy with "--validate-only"
    Then the command fails with exit code 1
    And the output reports 3 problems
    And the output says "config.yaml:2:3: server.prot"
    And the output says "did you mean `server.port`?"
    And the output says "config.yaml:4:12: sso.enabled: must be a boolean"

  Scenario: Debug logging to a file records authentication failures, never the token
    Given the proxy is started with "--log-level DEBUG --log-file proxy.log"
    And the proxy is running
    And the user "alice@company.com" holds a valid agent token
    When the agent sends a chat request with its token cut short by 1 characters
    Then the log file proxy.log shows "authentication failed"
    And the log file proxy.log never shows the presented credential
    And the console never shows the presented credential

  @cap-operator-cli
  Scenario: A redacted configuration for bug reports shows what is in force, never a secret
    Given the kit's standard configuration
    And the environment variable SSO_SESSION_LIFETIME_HOURS is "48"
    When I run the proxy with "--print-config"
    Then the command succeeds
    And the output says "session_lifetime_hours: 48"
    And the output says 'client_secret: "[redacted]"'
    And the output does not contain "kit-secret-not-real"
    And the output does not contain "sk-mock-openai-upstream"
