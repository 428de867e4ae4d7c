/** What a customer list can be ranked by: the API's `sort` and the command line's `--sort`. */
export const CUSTOMER_SORTS = ['revenue', 'profit', 'orders', 'lastOrder', 'clv', 'pAlive', 'rfm', 'created'] as const;
export type CustomerSort = (typeof CUSTOMER_SORTS)[number];
