import { useEffect, useMemo, useState } from "react";
import { type Admin, createAdmin, tokenStore } from "./api.js";
import { AccountsScreen } from "./screens/accounts.js";
import { CatalogScreen } from "./screens/catalog.js";
import { LiveScreen } from "./screens/live.js";
import { OverviewScreen } from "./screens/overview.js";
import { SessionsScreen } from "./screens/sessions.js";
import { SignIn } from "./screens/sign-in.js";
import { UsageScreen } from "./screens/usage.js";
import { UsersScreen } from "./screens/users.js";

/** The screens, by the hash route that shows them (no token or filter ever goes into the URL). */
const SCREENS = [
  { path: "overview", label: "Overview", Screen: OverviewScreen },
  { path: "accounts", label: "Accounts", Screen: AccountsScreen },
  { path: "users", label: "Users & keys", Screen: UsersScreen },
  { path: "catalog", label: "Groups & billing", Screen: CatalogScreen },
  { path: "live", label: "Leases & queues", Screen: LiveScreen },
  { path: "usage", label: "Usage", Screen: UsageScreen },
  { path: "sessions", label: "Sessions", Screen: SessionsScreen },
] as const;

function routeOf(hash: string): string {
  const path = hash.replace(/^#\/?/, "");
  return SCREENS.some((s) => s.path === path) ? path : "overview";
}

type Theme = "light" | "dark";

function initialTheme(): Theme {
  const saved = localStorage.getItem("switchyard.theme");
  if (saved === "light" || saved === "dark") return saved;
  return window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

/** The app: sign-in until a token is accepted, then the navigation and the current screen. */
export function App() {
  const [signedIn, setSignedIn] = useState(tokenStore.get() !== "");
  const [route, setRoute] = useState(routeOf(window.location.hash));
  const [theme, setTheme] = useState<Theme>(initialTheme);
  const admin: Admin = useMemo(
    () =>
      createAdmin(() => {
        tokenStore.clear();
        setSignedIn(false);
      }),
    [],
  );
  useEffect(() => {
    const onHash = () => setRoute(routeOf(window.location.hash));
    window.addEventListener("hashchange", onHash);
    return () => window.removeEventListener("hashchange", onHash);
  }, []);
  useEffect(() => {
    document.documentElement.dataset.theme = theme;
    localStorage.setItem("switchyard.theme", theme);
  }, [theme]);
  const themeToggle = (
    <button
      type="button"
      className="small ghost"
      onClick={() => setTheme(theme === "dark" ? "light" : "dark")}
      aria-label={`switch to ${theme === "dark" ? "light" : "dark"} theme`}
    >
      {theme === "dark" ? "☀ Light" : "☾ Dark"}
    </button>
  );
  if (!signedIn) {
    return (
      <SignIn
        admin={admin}
        themeToggle={themeToggle}
        onSignedIn={() => {
          setSignedIn(true);
        }}
      />
    );
  }
  const current = SCREENS.find((s) => s.path === route) ?? SCREENS[0];
  return (
    <div className="shell">
      <header className="topbar">
        <span className="brand">Switchyard</span>
        <nav className="nav" aria-label="screens">
          {SCREENS.map((s) => (
            <a key={s.path} href={`#/${s.path}`} aria-current={s.path === current.path ? "page" : undefined}>
              {s.label}
            </a>
          ))}
        </nav>
        <div className="topbar-end">
          {themeToggle}
          <button
            type="button"
            className="small ghost"
            onClick={() => {
              tokenStore.clear();
              setSignedIn(false);
            }}
          >
            Sign out
          </button>
        </div>
      </header>
      <main>
        <h1>{current.label}</h1>
        <current.Screen admin={admin} />
      </main>
    </div>
  );
}
