// Every GraphQL document the dashboard sends, in one place (a test validates them against
// graphql_api/schema.graphql, so a schema change that breaks the dashboard fails the suite).
export const CATEGORIES = `query Categories {
  categories { slug name dealCount children { slug name dealCount } }
}`;

export const SEARCH = `query Search($filter: DealFilter, $sort: DealSort!, $first: Int!, $after: String) {
  deals(filter: $filter, sort: $sort, first: $first, after: $after) {
    edges { cursor node { id title price value discountPct saving merchantName online distanceKm expiresAt
                          category { slug name } score { verifiedDiscountPct isGenuine } } }
    pageInfo { hasNextPage endCursor }
    exhaustive
  }
}`;

export const DEAL = `query Deal($id: ID!) {
  deal(id: $id) {
    id title shortTitle price value discountPct saving imageUrl expiresAt merchantName online description
    finePrint numberSold url untrackedUrl providerName advertisedDiscountPct isDiscountConsistent createdAt updatedAt
    category { slug name parent { slug name } }
    merchant { id name address locality region postalCode country phone url }
    location { latitude longitude }
    priceHistory { observedAt price value discountPct }
    rating { adjusted mean count distribution unverifiedCount priorMean }
    reviews(first: 10) { nodes { id at stars text reviewer verified } pageInfo { hasNextPage } }
    score { verifiedDiscountPct advertisedDiscountPct referencePrice referenceKind verifiedSaving isGenuine flags
            explanation scoredAt }
    sameOffer { itemKey lowestPrice highestPrice sellers { dealId merchantName providerName price value observedAt } }
  }
}`;

export const MERCHANTS = `query Merchants($category: String!, $sort: MerchantSort!, $first: Int!, $after: String) {
  merchants(category: $category, sort: $sort, first: $first, after: $after) {
    edges { cursor node { id name dealsSold dealCount liveUnitsToday
                          honesty { scoredDeals honestShare verifiedShare inflationIncidents }
                          rating { adjusted count } } }
    pageInfo { hasNextPage endCursor }
  }
}`;

// Polled every few seconds; trending itself arrives over the subscription below.
export const LIVE = `query Live($category: String!) {
  salesTimeline(last: 120) { at purchases units revenue }
  purchaseFeed(first: 15) { id at buyer city dealId dealTitle category merchantName quantity amount }
  topSellers(category: $category, first: 10) { id name purchases units revenue }
}`;

export const TRENDING_LIVE = `subscription TrendingLive($window: TrendWindow!) {
  trending(window: $window, first: 10, everySeconds: 1) { slug name score views clicks purchases reviews }
}`;

// The lower 48 states, Alaska and Hawaii: three boxes, each within the API's region bound.
export const ACTIVITY_MAP = `query ActivityMap($precision: Int!) {
  lower48: activityMap(bbox: {south: 24, west: -125, north: 50, east: -66}, precision: $precision) {
    hour precision minUsers cells { geohash latitude longitude users events purchases averageRating } }
  alaska: activityMap(bbox: {south: 51, west: -180, north: 72, east: -129}, precision: $precision) {
    hour precision minUsers cells { geohash latitude longitude users events purchases averageRating } }
  hawaii: activityMap(bbox: {south: 18, west: -161, north: 23, east: -154}, precision: $precision) {
    hour precision minUsers cells { geohash latitude longitude users events purchases averageRating } }
}`;

export const VIEWER = `query Viewer {
  viewer { userId role purchases(first: 20) { id at dealId dealTitle category merchantName quantity amount }
    recommendations(first: 10) { reason score deal { id title price merchantName } } }
}`;

const INTEREST_FIELDS = "id category maxPrice minDiscount minVerifiedDiscount keywords delivery maxPerDay";
const ALERT_FIELDS = "id cursor dealId kind reason alertAt title price previousPrice";

export const MY_ALERTS = `query MyAlerts {
  viewer { interests { ${INTEREST_FIELDS} } alerts(first: 20) { nodes { ${ALERT_FIELDS} } } }
}`;

export const SAVE_INTEREST = `mutation SaveInterest($input: InterestInput!) {
  saveInterest(input: $input) { ${INTEREST_FIELDS} }
}`;

export const DELETE_INTEREST = `mutation DeleteInterest($id: ID!) { deleteInterest(id: $id) }`;

// The token travels in connection_init (see gql.js); `after` resumes past the newest alert already shown.
export const DEAL_ALERTS_LIVE = `subscription DealAlertsLive($after: String) {
  dealAlerts(after: $after) { cursor alerts { ${ALERT_FIELDS} } }
}`;
