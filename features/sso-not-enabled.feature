@guide-sso-not-enabled
Feature: SSO not enabled
  Symptoms: requests are processed without authentication, no login banner, the configuration seems ignored.

  Scenario: `enabled` at the wrong indentation is caught with a hint
    Given the proxy configuration file:
      """
      sso:
      enabled: true
      """
    When I run the proxy with "--validate-only"
    Then the command fails with exit code 1
    And the output says "check indentation"

  @cap-strict-wording
  Scenario Outline: `enabled` must be the boolean true, not <value>
    Given the proxy configuration file:
      """
      sso:
        enabled: <value>
      """
    When I run the proxy with "--validate-only"
    Then the command fails with exit code 1
    And the output says "sso.enabled: must be a boolean"

    Examples:
      | value   |
      | "true"  |
      | 'true'  |
      | "yes"   |
      | "on"    |
      | "1"     |
      | 1       |
      | yes     |
      | on      |

  @cap-strict-wording
  Scenario: Without a configuration file requests pass without authentication (loopback only)
    Given no configuration file is passed
    And the environment variable HTTPS_PROXY is "http://127.0.0.1:9"
    When the proxy starts
    And the agent sends a chat request without a token
    Then the console shows "SSO: DISABLED"
    And the response status is 502
    And the response says "upstream"

  Scenario: SSO_ENABLED=false in the environment overrides the file
    Given the kit's standard configuration
    And the environment variable SSO_ENABLED is "false"
    When the proxy starts
    And the agent sends a chat request without a token
    Then the agent sees the model's answer

  Scenario: The fix: with SSO enabled an agent without a token gets the login banner
    Given the proxy is running
    When the agent sends a chat request without a token
    Then the agent sees a sandbox reply with the login URL
    And the upstream received no request
