package config

const caseInsensitivePaths = true
