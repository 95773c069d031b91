// The identity query shared by the layout, the login page and the user menu.
import { apiFetch } from "./client";
import { identityFrom, type Identity } from "./session";

export const IDENTITY_KEY = ["auth", "me"] as const;

export async function fetchIdentity(): Promise<Identity> {
  const response = await apiFetch("/api/v1/auth/me");
  const text = await response.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  return identityFrom(response.status, body);
}
