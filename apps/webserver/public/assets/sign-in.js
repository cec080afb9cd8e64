// Signing in on the dashboard: the box shown when the server refuses the page (it asks for the
// token, and for the password too where one is set), and the way out of a session.
import { data, format, t } from "./i18n.js";
import { $, render, whenUnauthorized } from "./page.js";
import { forgetToken, keepToken, takeGiven } from "./stream.js";

/**
 * What `GET /api/session` said last: whether a password is set, and how this page is signed in.
 * Null while unknown (the server did not answer).
 */
let session = null;
const readSession = () =>
  fetch("/api/session")
    .then((r) => (r.ok ? r.json() : null))
    .catch(() => null);

/** Where a password is set, the box asks for it (or the token), in its words. */
const withPassword = () => session?.password === true;
/**
 * Whether a token typed in the box may be kept for this tab and sent as a header: only where the
 * server said it has no password. Otherwise (a password, or nothing known) the box signs in through
 * `POST /api/login`, which takes the password or the token, and keeps nothing.
 */
const tokenOnly = () => session?.password === false;

/** What the page does once signed in, and how it marks itself out of date; set by `setUpSignIn`. */
let follow = () => {};
let markStale = () => {};

/** The message under the box, made in the page's language: made again on a switch. */
let said = () => "";
function say(words = () => "") {
  said = words;
  $("auth-error").textContent = said();
}

function showAccount() {
  // Signed in from the login page (or this box): the way out, here and on every device.
  $("account").hidden = session?.via !== "session";
}

/** The box's words in the page's language: about the token, or the password too. */
export function translateSignIn() {
  const password = withPassword();
  const heading = $("auth").querySelector("h2 [data-i18n]");
  heading.dataset.i18n = password ? "signInRequired" : "tokenRequired";
  heading.textContent = password ? t("signInRequired") : t("tokenRequired");
  const submit = $("auth-form").querySelector("button");
  submit.dataset.i18n = password ? "signIn" : "useToken";
  submit.textContent = password ? t("signIn") : t("useToken");
  const input = $("auth-token");
  const hint = password ? "passwordPlaceholder" : "tokenPlaceholder";
  input.dataset.i18nPlaceholder = hint;
  input.dataset.i18nAriaLabel = hint;
  input.placeholder = t(hint);
  input.setAttribute("aria-label", t(hint));
  // A password manager fills and saves a password; a token is not one to offer elsewhere.
  input.autocomplete = password ? "current-password" : "off";
  // A password lets a user in on its own: a server with one on loopback may have no token at all.
  const command = data("xiaozhi-connect token");
  const why = password
    ? format("passwordWhy", { password: data("xiaozhi-connect password"), command })
    : format("tokenWhy", { command });
  $("token-why").replaceChildren(...render(why));
  $("auth-error").textContent = said();
  if (!$("auth").hidden) $("live").textContent = password ? t("signInNeeded") : t("tokenNeeded");
}

/** The server refused this page (401): back to the login page, or the box asks for the token. */
export async function askForToken() {
  // A token sent and answered with 401 was refused: forgotten, so the next try is the user's and
  // not the same one again.
  const refused = forgetToken();
  // A token given to this tab that cannot go in a header (in the address, say).
  const given = takeGiven();
  session = await readSession();
  showAccount();
  // Signed in from the login page, and refused only for a token this tab sent: again without it.
  if (refused && session?.signedIn) {
    follow();
    return;
  }
  // Beyond loopback the page itself needs a login: a lapsed session goes back to it.
  if (session?.loginRequired) {
    location.assign("/login");
    return;
  }
  // Such a token signs in through the login; the box shows unless it did.
  if (refused) say(() => t("tokenRefused"));
  if (given && (await signIn(given))) return;
  $("auth").hidden = false;
  markStale(true);
  $("live").className = "off";
  translateSignIn();
}

/** In: the box goes and the page follows the server again. */
function signedIn() {
  say();
  $("auth").hidden = true;
  follow();
}

/**
 * Signs in with the password or the token as the login page does (`POST /api/login`: counted
 * against guessing, answered with a session cookie); the page then needs no token of its own.
 * Whether it did; if not, the message under the box says why.
 */
async function signIn(secret) {
  const submit = $("auth-form").querySelector("button");
  submit.disabled = true;
  try {
    const response = await fetch("/api/login", {
      method: "POST",
      headers: { "content-type": "application/json", "x-xiaozhi-source": "dashboard" },
      body: JSON.stringify({ secret }),
    });
    if (response.ok) {
      // A token this tab kept would be sent instead of the cookie, and would be the one checked.
      forgetToken();
      session = { ...session, signedIn: true, via: "session" };
      showAccount();
      signedIn();
      return true;
    }
    if (response.status === 429) {
      const s = response.headers.get("retry-after") ?? "60";
      say(() => t("signInLimited", { s }));
    } else if (response.status === 401) {
      say(tokenOnly() ? () => t("tokenRefused") : () => t("signInWrong"));
    } else {
      const why = `HTTP ${response.status}`;
      say(() => t("signInFailed", { why }));
    }
  } catch (error) {
    const why = error?.message ?? String(error);
    say(() => t("signInFailed", { why }));
  } finally {
    submit.disabled = false;
  }
  return false;
}

/** What the box was given: a token kept for this tab, or a sign-in through `POST /api/login`. */
async function submitted(value) {
  // Unknown, the server is asked again; until it answers, nothing is kept as a token.
  if (!session) {
    session = await readSession();
    showAccount();
    translateSignIn();
  }
  // A password (or a value while the session is still unknown) as typed, as on the login page.
  if (!tokenOnly()) {
    if (value) await signIn(value);
    return;
  }
  // A token without the spaces a paste brings. One that cannot go in a header (the config takes
  // any characters, a header only ASCII) signs in instead, and the cookie carries it.
  const token = value.trim();
  if (!token) return;
  if (keepToken(token)) signedIn();
  else await signIn(token);
}

/** Wires the box and the account's buttons: `follow` reads the event stream, `markStale` greys. */
export function setUpSignIn(options) {
  ({ follow, markStale } = options);
  whenUnauthorized(() => void askForToken());
  void readSession().then((answer) => {
    session ??= answer;
    showAccount();
  });

  const signOut = (path) => async () => {
    // Out means out in this tab too: a token it kept would sign the next page in again.
    forgetToken();
    await fetch(path, { method: "POST", headers: { "x-xiaozhi-source": "dashboard" } }).catch(() => {});
    location.assign("/login");
  };
  $("sign-out").addEventListener("click", signOut("/api/logout"));
  $("sign-out-all").addEventListener("click", signOut("/api/logout/all"));

  $("auth-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("auth-token");
    const value = input.value;
    input.value = "";
    void submitted(value);
  });
}
