import { Migration } from "@mikro-orm/migrations";

/**
 * ChatGPT-subscription accounts: when the stored access token expires (read to refresh it in time without opening
 * the sealed credential) and the subscription's usage windows as the upstream last reported them.
 */
export class ChatGptAccounts extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      'alter table "accounts" add column "credential_expires_at" timestamptz null, add column "usage_windows" jsonb null',
    );
  }
}
