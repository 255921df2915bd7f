import { Migration } from "@mikro-orm/migrations";

/** Usage records keep the client's address and user agent. */
export class ParityWithReference extends Migration {
  override async up(): Promise<void> {
    this.addSql('alter table "usage_records" add column "client_ip" text not null default \'\'');
    this.addSql('alter table "usage_records" add column "user_agent" text not null default \'\'');
  }
}
