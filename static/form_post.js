// Form Post Response Mode: hand the authorization response to the application at once.
// Without JavaScript the page's Continue button does the same.
document.getElementById("form-post").submit();
