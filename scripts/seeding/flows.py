"""The application the seeded tests automate: its feature areas and the steps a test takes there.

A shop with accounts, search, a cart and a checkout, and a back office: each area has its page,
the interactions a test performs there in a plausible order, and the checks that end a test.
Test cases and templates are both drawn from these, so a case instantiated from a template reads
like the cases written by hand. Selectors mix the styles real suites use: ids, `data-testid`,
ARIA attributes, Playwright text selectors.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from faker import Faker

from documents.test_defs import StepAction

Fake = Callable[[Faker], str]

MIN_STEPS = 3
MAX_STEPS = 12


@dataclass(frozen=True, slots=True)
class Parameter:
    """A value a template leaves to its caller (`{{name}}`), and how to make one up."""

    name: str
    description: str
    fake: Fake
    has_default: bool = True  # a template gives it a default (a password never has one)


PARAMETERS = {
    parameter.name: parameter
    for parameter in (
        Parameter("base_url", "Base URL of the environment under test", lambda f: f.url()),
        Parameter("email", "Email address of the test user", lambda f: f.email()),
        Parameter(
            "password",
            "Password of the test user",
            lambda f: f.password(length=14),
            has_default=False,
        ),
        Parameter("search_term", "What the user searches for", lambda f: f.word()),
        Parameter("quantity", "How many items to add", lambda f: str(f.random_int(1, 5))),
        Parameter("coupon", "A discount code", lambda f: f.bothify("SAVE##??").upper()),
        Parameter("first_name", "Given name of the customer", lambda f: f.first_name()),
        Parameter("last_name", "Family name of the customer", lambda f: f.last_name()),
        Parameter("street", "Street address for delivery", lambda f: f.street_address()),
        Parameter("city", "City for delivery", lambda f: f.city()),
        Parameter("postcode", "Postcode for delivery", lambda f: f.postcode()),
        Parameter("card_number", "Test card number", lambda f: "4242 4242 4242 4242"),
        Parameter("phone", "Phone number", lambda f: f.numerify("+1 ###-###-####")),
        Parameter("company", "Company name", lambda f: f.company()),
    )
}


@dataclass(frozen=True, slots=True)
class StepSpec:
    """One step as the area's tests take it. `parameter`: its value is that parameter's."""

    action: StepAction
    selector: str | None = None
    value: str | Fake | None = None
    description: str | None = None
    expected: str | None = None
    parameter: str | None = None
    timeout_ms: int | None = None  # None: the model's default
    optional: bool = False


@dataclass(frozen=True, slots=True)
class Area:
    slug: str  # its tag, and part of automation keys
    title: str
    path: str
    scenarios: tuple[str, ...]
    steps: tuple[StepSpec, ...]  # interactions, in the order a test takes them
    checks: tuple[StepSpec, ...]  # assertions that end a test


A = StepAction


def _type(selector: str, parameter: str, description: str) -> StepSpec:
    return StepSpec(A.TYPE, selector, description=description, parameter=parameter)


def _click(selector: str, description: str, *, optional: bool = False) -> StepSpec:
    return StepSpec(A.CLICK, selector, description=description, optional=optional)


def _wait(selector: str, description: str) -> StepSpec:
    return StepSpec(A.WAIT, selector, description=description, timeout_ms=10_000)


def _text(selector: str, text: str, expected: str) -> StepSpec:
    return StepSpec(A.ASSERT_TEXT, selector, text, f"Check the text of {selector}", expected)


def _visible(selector: str, expected: str) -> StepSpec:
    return StepSpec(A.ASSERT_VISIBLE, selector, description=f"Check {selector}", expected=expected)


def _url(path: str, expected: str) -> StepSpec:
    return StepSpec(A.ASSERT_URL, None, path, "Check the address", expected)


COOKIES = _click('button[data-testid="accept-cookies"]', "Accept the cookie banner", optional=True)
SCREENSHOT = StepSpec(A.SCREENSHOT, description="Capture the page", optional=True)


AREAS: tuple[Area, ...] = (
    Area(
        slug="login",
        title="Login",
        path="/login",
        scenarios=(
            "registered user signs in with email and password",
            "remember me keeps the session after a restart",
            "user signs in with a one-time code",
            "signed-in user opens the account menu",
            "session survives a page reload",
            "user signs out from the account menu",
        ),
        steps=(
            COOKIES,
            _type("#email", "email", "Enter the email address"),
            _type("#password", "password", "Enter the password"),
            _click('label[for="remember-me"]', 'Tick "Remember me"'),
            _click('button[type="submit"]', "Submit the login form"),
            StepSpec(
                A.TYPE,
                'input[name="otp"]',
                lambda f: f.numerify("######"),
                "Enter the one-time code sent by text",
            ),
            _click('button:has-text("Verify")', "Confirm the code"),
            _wait('[data-testid="dashboard"]', "Wait for the dashboard"),
            StepSpec(A.HOVER, 'button[aria-label="Account menu"]', None, "Open the account menu"),
            StepSpec(A.EXECUTE_SCRIPT, None, "location.reload()", "Reload the page"),
            SCREENSHOT,
        ),
        checks=(
            _url("/dashboard", "The dashboard opens"),
            _text('[data-testid="welcome-message"]', "Welcome back", "The user is greeted"),
            _visible("img.avatar", "The user's avatar is shown"),
        ),
    ),
    Area(
        slug="signup",
        title="Sign-up",
        path="/register",
        scenarios=(
            "new customer creates an account",
            "sign-up with a company account",
            "newsletter opt-in is remembered",
            "password strength meter guides the user",
            "verification email link activates the account",
        ),
        steps=(
            COOKIES,
            _type("#first-name", "first_name", "Enter the given name"),
            _type("#last-name", "last_name", "Enter the family name"),
            _type("#email", "email", "Enter the email address"),
            _type("#new-password", "password", "Choose a password"),
            _type("#confirm-password", "password", "Repeat the password"),
            _type('input[name="company"]', "company", "Enter the company name"),
            _click('input[name="newsletter"]', "Opt in to the newsletter"),
            _click('input[name="terms"]', "Accept the terms"),
            _click('button:has-text("Create account")', "Create the account"),
            _wait(".verification-notice", "Wait for the verification notice"),
        ),
        checks=(
            _text("h1", "Check your inbox", "The verification notice is shown"),
            _url("/register/verify", "The verification page opens"),
            _visible('[data-testid="resend-email"]', "A resend link is offered"),
        ),
    ),
    Area(
        slug="search",
        title="Search",
        path="/",
        scenarios=(
            "search by product name shows matching results",
            "search suggestions appear while typing",
            "filters narrow the results",
            "sorting by price orders the results",
            "an unknown term shows helpful suggestions",
            "search results paginate",
        ),
        steps=(
            COOKIES,
            _click('[data-testid="search-toggle"]', "Open the search bar"),
            _type('input[data-testid="search-input"]', "search_term", "Type the search term"),
            _wait('ul[role="listbox"]', "Wait for suggestions"),
            StepSpec(A.PRESS, 'input[data-testid="search-input"]', "Enter", "Run the search"),
            _wait(".search-results", "Wait for the results"),
            _click('label:has-text("In stock")', "Filter on items in stock"),
            StepSpec(A.SELECT, "select#sort", "price-asc", "Sort by price, lowest first"),
            _click('nav[aria-label="pagination"] >> text=2', "Go to the second page"),
            StepSpec(A.HOVER, ".search-results .product-card:first-child", None, "Hover a result"),
            SCREENSHOT,
        ),
        checks=(
            _visible(".search-results .product-card", "At least one result is listed"),
            _text('[data-testid="result-count"]', "results", "The number of results is shown"),
            _url("/search?q=", "The address holds the query"),
        ),
    ),
    Area(
        slug="catalog",
        title="Product page",
        path="/products",
        scenarios=(
            "product page shows price and availability",
            "image gallery opens full screen",
            "size and colour choices update the price",
            "reviews load on scroll",
            "related products are offered",
        ),
        steps=(
            COOKIES,
            _click(".category-menu >> text=New arrivals", "Open the new arrivals"),
            _click(".product-card:nth-child(3) a", "Open the third product"),
            _wait('[data-testid="product-title"]', "Wait for the product page"),
            _click('button[aria-label="Next image"]', "Show the next image"),
            _click(".gallery img.active", "Open the image full screen"),
            StepSpec(A.PRESS, "body", "Escape", "Close the full-screen image"),
            StepSpec(A.SELECT, 'select[name="size"]', "M", "Choose size M"),
            _click('button[data-colour="navy"]', "Choose the navy colour"),
            StepSpec(
                A.EXECUTE_SCRIPT,
                None,
                "window.scrollTo(0, document.body.scrollHeight)",
                "Scroll to the reviews",
            ),
            SCREENSHOT,
        ),
        checks=(
            _visible('[data-testid="price"]', "The price is shown"),
            _text(".availability", "In stock", "The product is available"),
            _visible("section.reviews article", "Reviews are listed"),
        ),
    ),
    Area(
        slug="cart",
        title="Cart",
        path="/cart",
        scenarios=(
            "adding a product updates the mini cart",
            "changing the quantity updates the total",
            "removing the last item empties the cart",
            "a discount code lowers the total",
            "cart is kept after signing in",
        ),
        steps=(
            COOKIES,
            _click('button:has-text("Add to cart")', "Add the product to the cart"),
            _wait('[data-testid="mini-cart"]', "Wait for the mini cart"),
            _click('a[href="/cart"]', "Open the cart"),
            _type("input.quantity", "quantity", "Change the quantity"),
            StepSpec(A.PRESS, "input.quantity", "Tab", "Leave the quantity field"),
            _type("#coupon-code", "coupon", "Enter a discount code"),
            _click('button:has-text("Apply")', "Apply the discount code"),
            _wait(".cart-summary .discount", "Wait for the discount line"),
            _click('button[aria-label="Remove item"]', "Remove an item"),
            SCREENSHOT,
        ),
        checks=(
            _text('[data-testid="cart-count"]', "1", "The cart badge counts the item"),
            _visible(".cart-summary .total", "The total is shown"),
            _text(".cart-summary .discount", "-", "The discount is applied"),
        ),
    ),
    Area(
        slug="checkout",
        title="Checkout",
        path="/checkout",
        scenarios=(
            "guest pays by card with standard delivery",
            "returning customer pays with a saved card",
            "express delivery adds its fee",
            "invalid postcode is rejected",
            "order confirmation shows the order number",
            "billing address differs from the delivery address",
        ),
        steps=(
            COOKIES,
            _type("#email", "email", "Enter the email address"),
            _type("#shipping-first-name", "first_name", "Enter the given name"),
            _type("#shipping-last-name", "last_name", "Enter the family name"),
            _type("#shipping-address", "street", "Enter the street address"),
            _type("#shipping-city", "city", "Enter the city"),
            _type("#shipping-postcode", "postcode", "Enter the postcode"),
            _click('input[name="shipping-method"][value="express"]', "Choose express delivery"),
            _type('iframe[name="card"] >> #card-number', "card_number", "Enter the card number"),
            StepSpec(A.TYPE, 'iframe[name="card"] >> #card-expiry', "12/29", "Enter the expiry"),
            _click('button:has-text("Place order")', "Place the order"),
            _wait(".order-confirmation", "Wait for the confirmation"),
        ),
        checks=(
            _text("h1.order-title", "Thank you for your order", "The order is confirmed"),
            _url("/checkout/confirmation", "The confirmation page opens"),
            _visible('[data-testid="order-number"]', "The order number is shown"),
        ),
    ),
    Area(
        slug="account",
        title="Account",
        path="/account",
        scenarios=(
            "customer updates the delivery address",
            "order history lists past orders",
            "changing the password signs out other sessions",
            "customer downloads an invoice",
            "phone number is validated",
        ),
        steps=(
            _click('a[href="/account/addresses"]', "Open the addresses"),
            _click('button:has-text("Edit")', "Edit the default address"),
            _type("#address-line1", "street", "Enter the street address"),
            _type("#address-city", "city", "Enter the city"),
            _type("#address-phone", "phone", "Enter the phone number"),
            _click('button[type="submit"]', "Save the address"),
            _click('a[href="/account/orders"]', "Open the order history"),
            _click("table.orders tbody tr:first-child a", "Open the latest order"),
            _click('a:has-text("Download invoice")', "Download the invoice"),
            SCREENSHOT,
        ),
        checks=(
            _text('[role="status"]', "Saved", "The change is confirmed"),
            _visible("table.orders tbody tr", "Past orders are listed"),
            _url("/account/orders/", "The order page opens"),
        ),
    ),
    Area(
        slug="admin",
        title="Back office",
        path="/admin",
        scenarios=(
            "admin creates a product",
            "admin deactivates a user",
            "admin exports orders as CSV",
            "role permissions hide the settings",
            "bulk price update applies to the selection",
        ),
        steps=(
            _type("#email", "email", "Enter the admin's email address"),
            _type("#password", "password", "Enter the admin's password"),
            _click('button[type="submit"]', "Sign in"),
            _wait("nav.sidebar", "Wait for the back office"),
            _click('nav.sidebar a[href="/admin/products"]', "Open the products"),
            _click('button:has-text("New product")', "Start a new product"),
            _type('input[name="title"]', "search_term", "Enter the product title"),
            StepSpec(A.SELECT, 'select[name="status"]', "active", "Make it active"),
            _click('button:has-text("Save")', "Save the product"),
            _click('nav.sidebar a[href="/admin/orders"]', "Open the orders"),
            _click('button:has-text("Export CSV")', "Export the orders"),
        ),
        checks=(
            _text(".toast-success", "Saved", "The change is confirmed"),
            _visible("table.data-grid tbody tr", "The list shows rows"),
            _url("/admin/products/", "The product page opens"),
        ),
    ),
    Area(
        slug="contact",
        title="Contact form",
        path="/contact",
        scenarios=(
            "visitor sends a message",
            "required fields are flagged",
            "attachment is accepted",
            "a business enquiry reaches sales",
        ),
        steps=(
            COOKIES,
            _type("#name", "first_name", "Enter the name"),
            _type("#contact-email", "email", "Enter the email address"),
            _type("#contact-phone", "phone", "Enter the phone number"),
            _type("#contact-company", "company", "Enter the company"),
            StepSpec(A.SELECT, "select#topic", "sales", "Choose the topic"),
            StepSpec(A.TYPE, "textarea#message", "I would like a quote.", "Write the message"),
            _click('input[name="consent"]', "Agree to be contacted"),
            _click('button:has-text("Send")', "Send the message"),
            _wait('[role="alert"]', "Wait for the answer"),
        ),
        checks=(
            _text('[role="alert"]', "Thanks, we will be in touch", "The message is sent"),
            _visible(".form-success", "The success panel is shown"),
            _url("/contact/thanks", "The thank-you page opens"),
        ),
    ),
    Area(
        slug="i18n",
        title="Localisation",
        path="/",
        scenarios=(
            "language switcher translates the navigation",
            "prices follow the chosen currency",
            "dates use the visitor's locale",
            "right-to-left layout for Arabic",
        ),
        steps=(
            COOKIES,
            _click('button[aria-label="Change language"]', "Open the language switcher"),
            _click('li[data-locale="de-DE"]', "Choose German"),
            _wait('html[lang="de-DE"]', "Wait for the German page"),
            StepSpec(A.SELECT, "select#currency", "EUR", "Choose euros"),
            _click(".category-menu >> nth=0", "Open the first category"),
            StepSpec(A.HOVER, ".product-card:first-child", None, "Hover the first product"),
            _click('button[aria-label="Change language"]', "Open the language switcher again"),
            _click('li[data-locale="ar"]', "Choose Arabic"),
            StepSpec(A.EXECUTE_SCRIPT, None, "document.documentElement.dir", "Read the direction"),
            SCREENSHOT,
        ),
        checks=(
            _text("nav.main a:first-child", "Neuheiten", "The navigation is in German"),
            _text(".product-card .price", "€", "Prices are in euros"),
            _visible('html[dir="rtl"]', "The layout is right to left"),
        ),
    ),
)


def navigate(area: Area, base_url: str) -> StepSpec:
    """The first step of every test: open the area's page under `base_url`."""
    return StepSpec(
        A.NAVIGATE,
        value=f"{base_url.rstrip('/')}{area.path}",
        description=f"Open the {area.title.lower()} page",
    )


def flow(area: Area, rng: random.Random, count: int) -> list[StepSpec]:
    """`count` steps to take after `navigate`: interactions in the area's order, then checks."""
    fewest_checks = max(1, count - len(area.steps))
    checks = rng.randint(fewest_checks, min(len(area.checks), count))
    interactions = sorted(rng.sample(range(len(area.steps)), count - checks))
    return [area.steps[index] for index in interactions] + rng.sample(area.checks, checks)


def written_value(spec: StepSpec, faker: Faker) -> str | None:
    """The step's value as a template holds it: a parameter's is its `{{placeholder}}`."""
    if spec.parameter is not None:
        return "{{" + spec.parameter + "}}"
    return spec.value(faker) if callable(spec.value) else spec.value


def step_fields(spec: StepSpec, *, order: int, value: str | None) -> dict[str, Any]:
    """The fields of a stored step (a test case's or a template's) taking `spec` at `order`."""
    fields: dict[str, Any] = {
        "order": order,
        "action": spec.action,
        "selector": spec.selector,
        "value": value,
        "description": spec.description,
        "expected": spec.expected,
        "optional": spec.optional,
        # A screenshot step fails without an image worth keeping.
        "screenshot_on_failure": spec.action is not A.SCREENSHOT,
    }
    if spec.timeout_ms is not None:
        fields["timeout_ms"] = spec.timeout_ms
    return fields
