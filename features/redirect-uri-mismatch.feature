@guide-redirect-uri-mismatch
Feature: Redirect URI mismatch
  The IdP's registration and the proxy's redirect URI differ: the IdP shows its own error page.

  Scenario: Google shows "Error 400: redirect_uri_mismatch" when another port is registered
    Given the identity provider has the redirect URI "http://127.0.0.1:3000/auth/callback" registered instead
    And the proxy is running
    When I sign in with "google"
    Then the page status is 400
    And the page says "Error 400: redirect_uri_mismatch"
    And the page says "redirect_uri=http://127.0.0.1:{port}/auth/callback"

  Scenario: Microsoft shows AADSTS50011 naming the URI when a trailing slash is registered
    Given the identity provider has the redirect URI "http://127.0.0.1:{port}/auth/callback/" registered instead
    And the proxy is running
    When I sign in with "microsoft"
    Then the page says "AADSTS50011"

  Scenario: The proxy prints the exact redirect URI to register
    Given the kit's standard configuration
    When I run the proxy with "--validate-only"
    Then the output says "http://127.0.0.1:{port}/auth/callback"

  @cap-public-url @cap-strict-wording
  Scenario: Behind an HTTPS public_url the redirect URI to register is https
    Given the proxy configuration file:
      """
      server:
        public_url: "https://proxy.company.com"
      sso:
        enabled: true
        providers:
          google:
            type: "oauth2"
            client_id: "id"
            client_secret: "s"
            discovery_url: "{google_discovery}"
            scopes: ["openid", "email"]
      """
    When I run the proxy with "--validate-only"
    Then the command succeeds
    And the output says "redirect URI to register for provider 'google': https://proxy.company.com/auth/callback"

  # SPEC: every browser URL hangs from public_url; the Host header a client sends changes nothing.
  @cap-public-url
  Scenario: Behind a reverse proxy the IdP is sent the public redirect URI, whatever Host the client sends
    Given the proxy's public URL is "https://llm-proxy.company.test"
    And the proxy is running
    When a browser starts a sign-in with "google" sending the Host header "evil.example"
    Then the identity provider is asked to redirect to "https://llm-proxy.company.test/auth/callback"

  @cap-public-url
  Scenario: Without public_url a forged Host header does not change the redirect URI
    Given the proxy is running
    When a browser starts a sign-in with "google" sending the Host header "evil.example:8080"
    Then the identity provider is asked to redirect to "http://127.0.0.1:{port}/auth/callback"
