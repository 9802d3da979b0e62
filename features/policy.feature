@spec-access-policy @cap-policy
Feature: Access policy: the organisation's rules decide, without an authorization API
  In policy mode the proxy decides from the verified identity alone. A rule matches when every condition it names
  holds; deny rules win; with no matching allow rule the person is told "Access denied" and what to do, never
  which rules exist.
  # SPEC: access policy (mode "policy", allow and deny rules, groups and roles from the ID token)

  Scenario: An address of an allowed domain signs in; the domain is compared without regard to case
    Given the access policy:
      """
      allow:
        - name: "staff"
          email_domains: ["Company.com"]
      """
    And the identity provider signs in "alice@company.com" next
    And the proxy is running
    When I sign in with "google"
    Then I receive an agent token
    And the console shows no confirmation code

  Scenario: An address of another domain is denied with a reason, and the rules stay private
    Given the access policy:
      """
      allow:
        - name: "staff"
          email_domains: ["company.com"]
      """
    And the identity provider signs in "bob@example.com" next
    And the proxy is running
    When I sign in with "google"
    Then the page status is 403
    And the page says "Access denied"
    And the page says "bob@example.com"
    And the page says "ask your administrator"
    And the page does not say "company.com"
    And the page does not say "staff"
    And the page shows no agent token

  Scenario: A member of an allowed group signs in, whatever the domain
    Given the access policy:
      """
      allow:
        - groups: ["llm-users@partner.example"]
      """
    And the identity provider knows "dana@partner.example" in the groups "llm-users@partner.example, other@partner.example"
    And the identity provider signs in "dana@partner.example" next
    And the proxy is running
    When I sign in with "google"
    Then I receive an agent token

  Scenario: Someone in no allowed group is denied
    Given the access policy:
      """
      allow:
        - groups: ["llm-users@partner.example"]
      """
    And the identity provider knows "eve@partner.example" in the groups "other@partner.example"
    And the identity provider signs in "eve@partner.example" next
    And the proxy is running
    When I sign in with "google"
    Then the page status is 403
    And the page shows no agent token

  Scenario: A deny group wins over an allowed domain
    Given the access policy:
      """
      allow:
        - email_domains: ["company.com"]
      deny:
        - name: "interns"
          groups: ["interns"]
      """
    And the identity provider knows "ivan@company.com" in the groups "interns"
    And the identity provider signs in "ivan@company.com" next
    And the proxy is running
    When I sign in with "google"
    Then the page status is 403
    And the page says "excludes ivan@company.com"
    And the page does not say "interns"
    And the page shows no agent token

  Scenario: A role rule lets in the holders of the role
    Given the access policy:
      """
      allow:
        - roles: ["LLM.User"]
      """
    And the identity provider knows "rita@example.org" with the roles "LLM.User"
    And the identity provider signs in "rita@example.org" next
    And the proxy is running
    When I sign in with "google"
    Then I receive an agent token

  Scenario: A tenant rule lets in the accounts of that Entra directory only
    Given the access policy:
      """
      allow:
        - tenants: ["b9c6a2f4-1f3e-4d8a-9c3b-2e7d5f6a8b10"]
      """
    And the identity provider knows "carol@contoso.com" in the Entra tenant "b9c6a2f4-1f3e-4d8a-9c3b-2e7d5f6a8b10"
    And the identity provider knows "frank@fabrikam.example" in the Entra tenant "72f988bf-86f1-41af-91ab-2d7cd011db47"
    And the identity provider signs in "carol@contoso.com" next
    And the proxy is running
    When I sign in with "microsoft"
    Then I receive an agent token
    Given the identity provider signs in "frank@fabrikam.example" next
    When I sign in with "microsoft"
    Then the page status is 403
    And the page shows no agent token

  Scenario: A list of addresses in a file is read again when it changes, without a restart
    Given the file "people.txt" next to the proxy contains:
      """
      # people who may use the proxy
      alice@company.com
      """
    And the access policy:
      """
      allow:
        - emails_file: "people.txt"
      """
    And the identity provider signs in "Bob@Company.com" next
    And the proxy is running
    When I sign in with "google"
    Then the page status is 403
    Given the file "people.txt" next to the proxy contains:
      """
      alice@company.com
      bob@company.com
      """
    And the identity provider signs in "Bob@Company.com" next
    When I sign in with "google"
    Then I receive an agent token

  Scenario: Entra's group overage is said plainly, not taken for "in no group"
    Given the access policy:
      """
      allow:
        - groups: ["llm-users"]
      """
    And the identity provider knows "gus@contoso.com" in the Entra tenant "b9c6a2f4-1f3e-4d8a-9c3b-2e7d5f6a8b10" and 201 groups, "llm-users" among them
    And the identity provider signs in "gus@contoso.com" next
    And the proxy is running
    When I sign in with "microsoft"
    Then the page status is 403
    And the page says "too many groups"
    And the page says "groupMembershipClaims"
    And the page shows no agent token

  Scenario: Up to Entra's limit the groups are in the token and decide
    Given the access policy:
      """
      allow:
        - groups: ["llm-users"]
      """
    And the identity provider knows "hal@contoso.com" in the Entra tenant "b9c6a2f4-1f3e-4d8a-9c3b-2e7d5f6a8b10" and 200 groups, "llm-users" among them
    And the identity provider signs in "hal@contoso.com" next
    And the proxy is running
    When I sign in with "microsoft"
    Then I receive an agent token

  Scenario Outline: A rule's models hold for every request its tokens make, streams included (<format>)
    Given the access policy:
      """
      allow:
        - groups: ["contractors"]
          models: ["mock-gpt-mini*", "mock-claude-haiku*"]
      """
    And the identity provider knows "dana@partner.example" in the groups "contractors"
    And the identity provider signs in "dana@partner.example" next
    And the proxy is running
    When I sign in with "google"
    Then I receive an agent token
    When the agent sends an <format> request for the model "<refused>" with its token
    Then its <format> client raises an API error that names the model "<refused>"
    And the upstream received no request
    When the agent sends an <format> request for the model "<allowed>" with its token
    Then its <format> client reads the model's answer

    Examples:
      | format           | refused      | allowed                |
      | openai-json      | mock-gpt     | mock-gpt-mini          |
      | openai-stream    | mock-gpt-big | mock-gpt-mini-2024     |
      | responses-json   | mock-gpt     | mock-gpt-mini          |
      | responses-stream | mock-gpt     | mock-gpt-mini          |
      | anthropic-json   | mock-claude  | mock-claude-haiku-4-5  |
      | anthropic-stream | mock-opus    | mock-claude-haiku      |

  Scenario: Someone taken out of the list of addresses loses access at their next request
    Given the file "people.txt" next to the proxy contains:
      """
      alice@company.com
      bob@company.com
      """
    And the access policy:
      """
      allow:
        - emails_file: "people.txt"
      """
    And the identity provider signs in "bob@company.com" next
    And the proxy is running
    When I sign in with "google"
    Then I receive an agent token
    When the agent sends a chat request with its token
    Then the agent sees the model's answer
    Given the file "people.txt" next to the proxy contains:
      """
      alice@company.com
      """
    When the agent sends a chat request with its token
    Then the agent sees a sandbox reply with the login URL
    And the sandbox reply says "Access denied"
    And the sandbox reply says "bob@company.com"
    And the upstream received 1 request

  @cap-device
  Scenario: A terminal's sign-in carries the groups to its token, so a group rule holds at every request
    Given the access policy:
      """
      allow:
        - groups: ["llm-users"]
      """
    And the identity provider knows "dana@partner.example" in the groups "llm-users"
    And the proxy is running
    When a terminal asks for a sign-in code
    And I open the verification link and confirm the code
    Given the identity provider signs in "dana@partner.example" next
    When I sign in with "google" for the terminal
    Then the page says "Terminal signed in"
    When the terminal polls after the interval
    Then the terminal receives an agent token
    When the agent sends a chat request with its token
    Then the agent sees the model's answer

  @cap-operator-cli
  Scenario: --validate-only refuses a policy that cannot work, each problem where it is written
    Given the proxy configuration file:
      """
      sso:
        enabled: true
        authorization:
          mode: "policy"
          policy:
            allow:
              - emails_file: "missing.txt"
              - emails: ["alice@other.example"]
                email_domains: ["company.com"]
            deny:
              - {}
        providers:
          google:
            type: "oauth2"
            client_id: "id"
            client_secret: "secret"
            discovery_url: "https://accounts.google.com/.well-known/openid-configuration"
            scopes: ["openid", "email"]
      """
    When I run the proxy with "--validate-only"
    Then the command fails with exit code 1
    And the output reports 3 problems
    And the output says ":7:"
    And the output says "missing.txt"
    And the output says "can never match"
    And the output says "a deny rule without conditions refuses everyone"

  @cap-operator-cli
  Scenario: doctor --who names the rule that decides for an address, its conditions, and what the person reads
    Given the proxy configuration file:
      """
      sso:
        enabled: true
        authorization:
          mode: "policy"
          policy:
            allow:
              - name: "staff"
                email_domains: ["company.com"]
                models: ["gpt-4o-mini*"]
            deny:
              - name: "summer-interns"
                groups: ["interns"]
        providers:
          google:
            type: "oauth2"
            client_id: "id"
            client_secret: "secret"
            discovery_url: "https://accounts.google.com/.well-known/openid-configuration"
            scopes: ["openid", "email"]
      """
    When I run the proxy with "doctor --who ivan@company.com --groups interns,llm-users"
    Then the command fails with exit code 1
    And the output says "summer-interns"
    And the output says "excludes ivan@company.com"
    When I run the proxy with "doctor --who alice@Company.com"
    Then the command succeeds
    And the output says "staff"
    And the output says "email_domains: yes"
    And the output says "gpt-4o-mini*"
    When I run the proxy with "doctor --who bob@example.com"
    Then the command fails with exit code 1
    And the output says "no allow rule matches"
