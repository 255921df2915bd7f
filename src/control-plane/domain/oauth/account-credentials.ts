import type { AccountEntry } from "../admission/directory.js";
import type { ChatGptTokens } from "./chatgpt-tokens.js";

/** Hands admission an account whose credential can be used now. */
export interface AccountCredentials {
  /**
   * The entry to lease: unchanged for API-key accounts and fresh ChatGPT tokens, with a refreshed access token when
   * 3 minutes or less were left or when `rejected` (the upstream refused the entry's token). Null when the account
   * cannot be used: its refresh was refused (the account is now in status error) or failed with its token expired.
   */
  usable(account: AccountEntry, rejected?: boolean): Promise<AccountEntry | null>;
}

/** Every credential as stored (no OAuth accounts to refresh: the embedded tests' and tools' default). */
export const STORED_CREDENTIALS: AccountCredentials = { usable: async (account) => account };

/** ChatGPT accounts' tokens kept fresh by {@link ChatGptTokens}; other accounts pass unchanged. */
export function refreshingCredentials(tokens: ChatGptTokens): AccountCredentials {
  return {
    async usable(account, rejected = false) {
      const oauth = account.oauth;
      if (!oauth) return account;
      const known = {
        accessToken: account.credential,
        chatgptAccountId: oauth.chatgptAccountId,
        expiresAt: oauth.expiresAt,
      };
      const token = await tokens.usable(account.view.id, known, rejected ? account.credential : "");
      if (!token) return null;
      if (token.accessToken === account.credential) return account;
      return {
        ...account,
        credential: token.accessToken,
        oauth: { chatgptAccountId: token.chatgptAccountId, expiresAt: token.expiresAt },
      };
    },
  };
}
