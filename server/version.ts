/** Ferry's version, as `ferry --version` prints it and each conversion host reports it. */
export const FERRY_VERSION = "0.1.0";
