/** Well-formed ids and an account number for unit tests that need a few fixed ones (two of each kind). */
export const ACCOUNT = '123456789012';
export const T1 = 't_01jx0000000000000000000001';
export const T2 = 't_01jx0000000000000000000002';
export const U1 = 'u_01jx0000000000000000000001';
export const U2 = 'u_01jx0000000000000000000002';
export const L1 = 'l_01jx0000000000000000000001';
export const L2 = 'l_01jx0000000000000000000002';
