/** Message content as the workflow hands it to the send activity: Liquid source, not yet rendered. */
export interface EmailContent {
  template?: string;
  subject: string;
  text: string;
  html?: string;
}

export interface SmsContent {
  template?: string;
  text: string;
}
