/** Message content as the workflow hands it to the send activity: Liquid source, not yet rendered. */
export interface EmailContent {
  template?: string;
  subject: string;
  text: string;
  html?: string;
  /** The template's locale variants, by locale; the send picks one by the customer's locale. */
  variants?: Record<string, { subject: string; text: string; html?: string }>;
  /** The locale of the variant taken, once one is; absent for the default. */
  locale?: string;
}

export interface SmsContent {
  template?: string;
  text: string;
  /** The template's locale variants, by locale; the send picks one by the customer's locale. */
  variants?: Record<string, { text: string }>;
  /** The locale of the variant taken, once one is; absent for the default. */
  locale?: string;
}
